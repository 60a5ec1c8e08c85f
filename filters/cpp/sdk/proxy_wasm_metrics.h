// Metrics in the proxy-wasm C++ SDK's API: the host calls, and Counter/Gauge/Histogram whose
// tag values become part of the metric name (`tag<value_separator>value<field_separator>...name`,
// e.g. "method.GET.requests"). Included by proxy_wasm_api.h.
#pragma once

inline WasmResult defineMetric(MetricType type, std::string_view name, uint32_t* metric_id) {
  return proxy_define_metric(type, name.data(), name.size(), metric_id);
}
inline WasmResult incrementMetric(uint32_t metric_id, int64_t offset) {
  return proxy_increment_metric(metric_id, offset);
}
inline WasmResult recordMetric(uint32_t metric_id, uint64_t value) {
  return proxy_record_metric(metric_id, value);
}
inline WasmResult getMetric(uint32_t metric_id, uint64_t* value) {
  return proxy_get_metric(metric_id, value);
}

// A tag value as it appears in a metric name.
template <typename T>
std::string toString(T value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value ? "true" : "false";
  } else if constexpr (std::is_arithmetic_v<T>) {
    return std::to_string(value);
  } else {
    return std::string(std::string_view(value));
  }
}

// Tag parameters of type std::string are taken as std::string_view (no copy at the call).
template <typename T>
struct StringToStringView {
  using type = T;
};
template <>
struct StringToStringView<std::string> {
  using type = std::string_view;
};

struct MetricTag {
  enum class TagType : uint32_t { String = 0, Int = 1, Bool = 2 };
  std::string name;
  TagType tagType;
};

// Names one tag of a Counter/Gauge/Histogram; T is the type of its values.
template <typename T>
struct MetricTagDescriptor {
  MetricTagDescriptor(std::string_view n) : name(n) {}
  MetricTagDescriptor(const char* n) : name(n) {}
  using type = T;
  std::string_view name;
};

template <typename T>
MetricTag toMetricTag(const MetricTagDescriptor<T>& d) {
  MetricTag::TagType kind = MetricTag::TagType::String;
  if constexpr (std::is_same_v<T, bool>)
    kind = MetricTag::TagType::Bool;
  else if constexpr (std::is_integral_v<T>)
    kind = MetricTag::TagType::Int;
  return MetricTag{std::string(d.name), kind};
}

// A metric family: one host metric per combination of tag values, defined on first use.
struct MetricBase {
  MetricBase(MetricType t, const std::string& n) : type(t), name(n) {}
  MetricBase(MetricType t, const std::string& n, const std::vector<MetricTag>& ts)
      : type(t), name(n), tags(ts) {}
  MetricBase(MetricType t, const std::string& n, const std::vector<MetricTag>& ts,
             std::string fs, std::string vs)
      : type(t), name(n), tags(ts), field_separator(std::move(fs)),
        value_separator(std::move(vs)) {}

  MetricType type;
  std::string name;
  std::string prefix;  // tags already resolved (partiallyResolve / extendAndResolve)
  std::vector<MetricTag> tags;
  std::unordered_map<std::string, uint32_t> metric_ids;
  std::string field_separator = ".";
  std::string value_separator = ".";

  // prefix + "tag<vs>value<fs>" for the first fields.size() tags.
  std::string prefixWithFields(const std::vector<std::string>& fields);
  // The host id of the metric named `n`, defining it the first time.
  uint32_t resolveFullName(const std::string& n);
  // The id for one value per remaining tag (aborts on a count mismatch).
  uint32_t resolveWithFields(const std::vector<std::string>& fields);
  // Fixes the first fields.size() tags (aborts unless some tags remain).
  void partiallyResolveWithFields(const std::vector<std::string>& fields);
  std::string nameFromIdSlow(uint32_t id);
};

namespace proxy_wasm_detail {
template <typename... Values>
std::vector<std::string> fields(const Values&... values) {
  return std::vector<std::string>{toString(values)...};
}
}  // namespace proxy_wasm_detail

// A metric whose tag values are given at run time, any types.
struct Metric : public MetricBase {
  Metric(MetricType t, const std::string& n) : MetricBase(t, n) {}
  Metric(MetricType t, const std::string& n, const std::vector<MetricTag>& ts)
      : MetricBase(t, n, ts) {}
  Metric(MetricType t, const std::string& n, const std::vector<MetricTag>& ts,
         std::string field_separator, std::string value_separator)
      : MetricBase(t, n, ts, std::move(field_separator), std::move(value_separator)) {}

  template <typename... Fields>
  void increment(int64_t offset, Fields... values) {
    incrementMetric(resolve(values...), offset);
  }
  template <typename... Fields>
  void record(uint64_t value, Fields... values) {
    recordMetric(resolve(values...), value);
  }
  template <typename... Fields>
  uint64_t get(Fields... values) {
    uint64_t v = 0;
    CHECK_RESULT(getMetric(resolve(values...), &v));
    return v;
  }
  template <typename... Fields>
  uint32_t resolve(Fields... values) {
    return resolveWithFields(proxy_wasm_detail::fields(values...));
  }
  template <typename... Fields>
  Metric partiallyResolve(Fields... values) {
    Metric copy(*this);
    copy.partiallyResolveWithFields(proxy_wasm_detail::fields(values...));
    return copy;
  }
};

// One resolved metric.
struct SimpleCounter {
  SimpleCounter(uint32_t id) : metric_id(id) {}
  void increment(int64_t offset) { incrementMetric(metric_id, offset); }
  void record(int64_t offset) { increment(offset); }
  uint64_t get() {
    uint64_t v = 0;
    CHECK_RESULT(getMetric(metric_id, &v));
    return v;
  }
  void operator++() { increment(1); }
  void operator++(int) { increment(1); }
  uint32_t metric_id;
};

struct SimpleGauge {
  SimpleGauge(uint32_t id) : metric_id(id) {}
  void record(uint64_t value) { recordMetric(metric_id, value); }
  uint64_t get() {
    uint64_t v = 0;
    CHECK_RESULT(getMetric(metric_id, &v));
    return v;
  }
  uint32_t metric_id;
};

struct SimpleHistogram {
  SimpleHistogram(uint32_t id) : metric_id(id) {}
  void record(int64_t value) { recordMetric(metric_id, static_cast<uint64_t>(value)); }
  uint32_t metric_id;
};

// Counter<std::string, int>::New("requests", "method", "code")->increment(1, "GET", 200).
template <typename... Tags>
struct Counter : public MetricBase {
  Counter(std::string_view name, MetricTagDescriptor<Tags>... descriptors)
      : MetricBase(MetricType::Counter, std::string(name), {toMetricTag(descriptors)...}) {}
  static Counter* New(std::string_view name, MetricTagDescriptor<Tags>... descriptors) {
    return new Counter(name, descriptors...);
  }

  SimpleCounter resolve(Tags... values) {
    return SimpleCounter(resolveWithFields(proxy_wasm_detail::fields(values...)));
  }
  // A new counter with these values fixed and further tags.
  template <typename... More>
  Counter<More...>* extendAndResolve(Tags... values, MetricTagDescriptor<More>... descriptors) {
    auto* c = Counter<More...>::New(name, descriptors...);
    c->prefix = prefixWithFields(proxy_wasm_detail::fields(values...));
    return c;
  }
  void increment(int64_t offset, Tags... values) { resolve(values...).increment(offset); }
  void record(int64_t offset, Tags... values) { increment(offset, values...); }
  uint64_t get(Tags... values) { return resolve(values...).get(); }
};

template <typename... Tags>
struct Gauge : public MetricBase {
  Gauge(std::string_view name, MetricTagDescriptor<Tags>... descriptors)
      : MetricBase(MetricType::Gauge, std::string(name), {toMetricTag(descriptors)...}) {}
  static Gauge* New(std::string_view name, MetricTagDescriptor<Tags>... descriptors) {
    return new Gauge(name, descriptors...);
  }

  SimpleGauge resolve(Tags... values) {
    return SimpleGauge(resolveWithFields(proxy_wasm_detail::fields(values...)));
  }
  template <typename... More>
  Gauge<More...>* extendAndResolve(Tags... values, MetricTagDescriptor<More>... descriptors) {
    auto* g = Gauge<More...>::New(name, descriptors...);
    g->prefix = prefixWithFields(proxy_wasm_detail::fields(values...));
    return g;
  }
  void record(int64_t value, typename StringToStringView<Tags>::type... values) {
    recordMetric(resolveWithFields(proxy_wasm_detail::fields(values...)),
                 static_cast<uint64_t>(value));
  }
  uint64_t get(Tags... values) { return resolve(values...).get(); }
};

template <typename... Tags>
struct Histogram : public MetricBase {
  Histogram(std::string_view name, MetricTagDescriptor<Tags>... descriptors)
      : MetricBase(MetricType::Histogram, std::string(name), {toMetricTag(descriptors)...}) {}
  static Histogram* New(std::string_view name, MetricTagDescriptor<Tags>... descriptors) {
    return new Histogram(name, descriptors...);
  }

  SimpleHistogram resolve(Tags... values) {
    return SimpleHistogram(resolveWithFields(proxy_wasm_detail::fields(values...)));
  }
  template <typename... More>
  Histogram<More...>* extendAndResolve(Tags... values, MetricTagDescriptor<More>... descriptors) {
    auto* h = Histogram<More...>::New(name, descriptors...);
    h->prefix = prefixWithFields(proxy_wasm_detail::fields(values...));
    return h;
  }
  void record(int64_t value, typename StringToStringView<Tags>::type... values) {
    recordMetric(resolveWithFields(proxy_wasm_detail::fields(values...)),
                 static_cast<uint64_t>(value));
  }
};
