// See config.h.
#include "config.h"

namespace filterbench {

bool badConfig(std::string_view filter, std::string_view why) {
  std::string m(filter);
  m += ": bad configuration: ";
  m += why;
  logWarn(m);
  return false;
}

bool loadConfigJson(std::string_view filter, size_t configuration_size, json::Value& doc) {
  // Hosts differ in whether "no configuration" is an absent or an empty buffer; both read as
  // empty here.
  WasmDataPtr bytes =
      getBufferBytes(WasmBufferType::PluginConfiguration, 0, configuration_size);
  if (bytes->size() == 0) {
    logWarn(std::string(filter) + ": missing configuration");
    return false;
  }
  std::string error;
  if (!json::parse(bytes->view(), doc, error)) return badConfig(filter, error);
  return true;
}

}  // namespace filterbench
