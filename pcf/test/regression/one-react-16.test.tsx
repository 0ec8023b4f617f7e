/**
 * Regression: npm hoists React 17 to the repository root (a peer of Fluent UI and Testing Library),
 * while the control uses the platform's React 16.14 from pcf/node_modules. With both loaded, Fluent's
 * hooks ran on the other React's dispatcher: "Invalid hook call". test/__mocks__/react*.ts pin one.
 */
import "../support/dom";
import * as React from "react";
import { render, screen } from "@testing-library/react";
import { FluentProvider, Switch, webLightTheme } from "@fluentui/react-components";

test("one React 16.14 runs the control, Fluent UI and Testing Library", () => {
  const Labelled: React.FC = () => {
    const [label] = React.useState("hooks work");
    return (
      <FluentProvider theme={webLightTheme}>
        <Switch label={label} />
      </FluentProvider>
    );
  };
  render(<Labelled />);
  expect(screen.getByRole("switch", { name: "hooks work" })).toBeInTheDocument();
  expect(React.version).toBe("16.14.0");
});
