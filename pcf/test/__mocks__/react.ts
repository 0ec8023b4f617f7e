// npm hoisted React 17 to the repository root (a peer of Fluent UI and Testing Library) while the
// control's React 16.14 — the platform version the manifest declares — sits in pcf/node_modules.
// Two copies of React in one render break hooks ("Invalid hook call"). Jest applies a root-level
// __mocks__ file of a node module to every require of it, so Fluent, Testing Library and our code
// all get the one React 16.14 from here.
import * as path from "path";

export = jest.requireActual(path.resolve(__dirname, "../../node_modules/react"));
