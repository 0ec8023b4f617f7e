import * as React from "react";
import { render, screen } from "@testing-library/react";
import { Switch, FluentProvider, webLightTheme } from "@fluentui/react-components";

test("one React", () => {
  const C = () => { const [v] = React.useState("hi"); return <FluentProvider theme={webLightTheme}><Switch label={v} /></FluentProvider>; };
  render(<C />);
  expect(screen.getByRole("switch", { name: "hi" })).toBeTruthy();
  expect(React.version).toBe("16.14.0");
});
