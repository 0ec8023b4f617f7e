/**
 * What jsdom lacks and Fluent UI v9 touches: ResizeObserver (positioning of popovers/listboxes) and
 * matchMedia (reduced-motion checks). Imported first by every component test (the root jest config
 * has no setup file for the pcf project).
 */
import "@testing-library/jest-dom";
import { configure } from "@testing-library/react";

// The machine is shared and slow: wait generously for things to appear (never a timing assertion).
configure({ asyncUtilTimeout: 15_000 });

class NoopResizeObserver {
  observe(): void {}
  unobserve(): void {}
  disconnect(): void {}
}

const g = globalThis as unknown as Record<string, unknown>;
if (!g.ResizeObserver) g.ResizeObserver = NoopResizeObserver;
if (typeof window !== "undefined" && !window.matchMedia) {
  window.matchMedia = (query: string): MediaQueryList =>
    ({
      matches: false,
      media: query,
      onchange: null,
      addListener: () => undefined,
      removeListener: () => undefined,
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
      dispatchEvent: () => false,
    }) as MediaQueryList;
}

/**
 * A Fluent v9 dialog, found by its title. Under jsdom, after a user-event click opens a Dialog,
 * tabster's modalizer soon marks the DialogSurface itself aria-hidden (a real browser does not;
 * tests/browser checks the dialog there). Hidden subtrees also drop out of accessible-name
 * computation, so the name is matched on the title element, and queries inside must pass hidden.
 */
export async function openDialog(title: string): Promise<HTMLElement> {
  const { screen, waitFor } = await import("@testing-library/react");
  return waitFor(() => {
    const match = screen
      .getAllByRole("dialog", { hidden: true })
      .find((d) => document.getElementById(d.getAttribute("aria-labelledby") ?? "")?.textContent === title);
    if (!match) throw new Error(`no open dialog titled ${title}`);
    return match;
  });
}
