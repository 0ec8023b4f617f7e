// See ./react.ts: the renderer must be the React DOM that matches React 16.14.
import * as path from "path";

export = jest.requireActual(path.resolve(__dirname, "../../node_modules/react-dom"));
