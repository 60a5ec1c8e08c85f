// See config.h.
#include "config.h"

namespace filterbench {

bool badConfig(std::string_view filter, std::string_view why) {
  std::string m(filter);
  m += ": bad configuration: ";
  m += why;
  proxy::logWarn(m);
  return false;
}

bool loadConfigJson(std::string_view filter, const proxy::RootContext& root, json::Value& doc) {
  auto bytes = root.pluginConfiguration();
  // Hosts differ in whether "no configuration" is an absent or an empty buffer.
  if (!bytes || bytes->empty()) {
    proxy::logWarn(std::string(filter) + ": missing configuration");
    return false;
  }
  std::string error;
  if (!json::parse(bytes->view(), doc, error)) return badConfig(filter, error);
  return true;
}

}  // namespace filterbench
