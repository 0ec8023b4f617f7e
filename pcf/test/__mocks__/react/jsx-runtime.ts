// See ../react.ts: Fluent's JSX runtime must use the same React 16.14.
import * as path from "path";

export = jest.requireActual(path.resolve(__dirname, "../../../node_modules/react/jsx-runtime"));
