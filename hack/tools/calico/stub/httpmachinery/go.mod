// An empty stand-in: calico's root module replaces lib/httpmachinery with a
// local path the module zip lacks, and only whisker-backend (not built
// here) imports it.
module github.com/projectcalico/calico/lib/httpmachinery

go 1.24
