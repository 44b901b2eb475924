// gcs_fbemu.js - runs the Cloud Storage emulator of npm firebase-tools (its JSON API:
// objects.list, media downloads, uploads) on 127.0.0.1:PORT for the GCS tests.
//   node gcs_fbemu.js NODE_DIR PORT
// `firebase emulators:start` would first download a Java rules-runtime JAR, which this
// machine cannot fetch; the JSON API that tiff-dumper uses is admin-only and never
// consults those rules, so the emulator's own server is started without the runtime.
"use strict";
const path = require("path");
const [nodeDir, port] = [path.resolve(process.argv[2]), +process.argv[3]];
const lib = path.join(nodeDir, "node_modules", "firebase-tools", "lib", "emulator");
const { StorageEmulator } = require(path.join(lib, "storage", "index.js"));
const { createApp } = require(path.join(lib, "storage", "server.js"));
const { EmulatorRegistry } = require(path.join(lib, "registry.js"));

(async () => {
  const emu = new StorageEmulator({ projectId: "demo-td", host: "127.0.0.1", port, rules: [],
                                    auto_download: false });
  EmulatorRegistry.set("storage", emu); // its object metadata builds URLs from the registry
  const app = await createApp("demo-td", emu);
  const server = app.listen(port, "127.0.0.1", () => console.log("ready"));
  const stop = () => server.close(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
