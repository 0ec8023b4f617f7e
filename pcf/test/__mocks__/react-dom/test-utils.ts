// See ../react.ts: Testing Library's act() must come from React DOM 16.14.
import * as path from "path";

export = jest.requireActual(path.resolve(__dirname, "../../../node_modules/react-dom/test-utils"));
