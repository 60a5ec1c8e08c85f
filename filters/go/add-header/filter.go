// add-header (Go): adds one configured header to every response, like filters/add-header.
//
// Configuration: {"name": "x-filterbench", "value": "added"} (both required).
package main

import "filterbench/filters/go/sdk"

const filter = "add-header"

type config struct {
	name, value string
}

type root struct {
	sdk.DefaultRootContext
	config *config
}

func (r *root) OnConfigure(int) bool {
	doc, ok := sdk.LoadConfig(filter)
	if !ok {
		return false
	}
	var c config
	err := sdk.DecodeStruct(&doc, "struct Config", []string{"name", "value"}, []bool{true, true}, true,
		func(i int, v *sdk.Value) (err error) {
			if i == 0 {
				c.name, err = sdk.AsString(v)
			} else {
				c.value, err = sdk.AsString(v)
			}
			return err
		})
	if err != nil {
		return sdk.BadConfig(filter, err.Error())
	}
	if c.name == "" {
		return sdk.BadConfig(filter, "`name` must not be empty")
	}
	// A failed configure keeps the previous configuration, if any.
	r.config = &c
	return true
}

func (r *root) NewHttpContext(uint32) sdk.HttpContext {
	return &addHeader{config: r.config}
}

type addHeader struct {
	sdk.DefaultHttpContext
	config *config
}

func (a *addHeader) OnResponseHeaders(int, bool) sdk.Action {
	if a.config != nil {
		sdk.AddHeaderMapValue(sdk.ResponseHeaders, a.config.name, a.config.value)
	}
	return sdk.Continue
}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return &root{} })
}

func main() {}
