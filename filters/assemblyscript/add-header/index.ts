// add-header (AssemblyScript): adds one configured header to every response, like
// filters/add-header. Configuration: {"name": "x-filterbench", "value": "added"} (both required).
//
// Built with @solo-io/proxy-runtime 0.1.8 (ABI 0.2.0 callbacks, identical in 0.2.1). Our host
// speaks 0.2.1 only: this marker is declared first so it is the module's first ABI marker.
export function proxy_abi_version_0_2_1(): void { }
export * from "@solo-io/proxy-runtime/proxy";
import {
  RootContext, Context, registerRootContext, FilterHeadersStatusValues, log, LogLevelValues,
} from "@solo-io/proxy-runtime";
import {
  get_buffer_bytes, add_header_map_value, BufferTypeValues, HeaderMapTypeValues,
} from "@solo-io/proxy-runtime/runtime";
import { JsonParser, JsonValue, JsonKind, jsonAt } from "../common/json";

const FILTER = "add-header";

function warn(message: string): void {
  log(LogLevelValues.warn, message);
}

function badConfig(why: string): bool {
  warn(FILTER + ": bad configuration: " + why);
  return false;
}

class AddHeaderRoot extends RootContext {
  configured: bool = false;
  name: ArrayBuffer = new ArrayBuffer(0);
  value: ArrayBuffer = new ArrayBuffer(0);

  createContext(context_id: u32): Context {
    return new AddHeader(context_id, this);
  }

  // Replaces the runtime's onConfigure: it treats the configuration as a plain string and
  // traps when there is none.
  onConfigure(configuration_size: u32): bool {
    const bytes = get_buffer_bytes(BufferTypeValues.PluginConfiguration, 0, configuration_size);
    // Hosts differ in whether "no configuration" is an absent or an empty buffer.
    if (bytes.byteLength == 0) {
      warn(FILTER + ": missing configuration");
      return false;
    }
    const parser = new JsonParser(Uint8Array.wrap(bytes));
    const doc = parser.parse();
    if (doc === null) return badConfig(parser.error);
    const d = doc as JsonValue;
    if (d.kind != JsonKind.Object) return badConfig(d.invalidType("struct Config"));
    let name: JsonValue | null = null;
    let value: JsonValue | null = null;
    for (let i = 0; i < d.keys.length; i++) {
      const key = d.keys[i];
      const v = d.items[i];
      if (key == "name") {
        if (name !== null) return badConfig(jsonAt("duplicate field `name`", d.keyLines[i], d.keyColumns[i]));
        const e = v.stringError();
        if (e.length > 0) return badConfig(e);
        name = v;
      } else if (key == "value") {
        if (value !== null) return badConfig(jsonAt("duplicate field `value`", d.keyLines[i], d.keyColumns[i]));
        const e = v.stringError();
        if (e.length > 0) return badConfig(e);
        value = v;
      } else {
        return badConfig(jsonAt("unknown field `" + key + "`, expected `name` or `value`", d.keyLines[i], d.keyColumns[i]));
      }
    }
    if (name === null) return badConfig(jsonAt("missing field `name`", d.endLine, d.endColumn));
    if (value === null) return badConfig(jsonAt("missing field `value`", d.endLine, d.endColumn));
    const n = (name as JsonValue).bytes();
    if (n.byteLength == 0) return badConfig("`name` must not be empty");
    // A failed configure keeps the previous configuration, if any.
    this.name = n;
    this.value = (value as JsonValue).bytes();
    this.configured = true;
    return true;
  }
}

class AddHeader extends Context {
  constructor(context_id: u32, root_context: AddHeaderRoot) {
    super(context_id, root_context);
  }

  onResponseHeaders(a: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const root = changetype<AddHeaderRoot>(this.root_context);
    if (root.configured) {
      add_header_map_value(HeaderMapTypeValues.ResponseHeaders, root.name, root.value);
    }
    return FilterHeadersStatusValues.Continue;
  }
}

function newRoot(context_id: u32): RootContext {
  return new AddHeaderRoot(context_id);
}

// The runtime picks the root context by the host's plugin_root_id: the catalogue name (the
// suite and Envoy both report it).
registerRootContext(newRoot, "as-" + FILTER);
