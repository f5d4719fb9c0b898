// Temporary: pins the project's dependencies in go.mod while its packages are written.
package deps

import (
	_ "github.com/fxamacker/cbor/v2"
	_ "github.com/gammazero/nexus/v3/client"
	_ "github.com/gammazero/nexus/v3/router"
	_ "github.com/gorilla/websocket"
	_ "github.com/spf13/viper"
	_ "github.com/vmihailenco/msgpack/v5"
)
