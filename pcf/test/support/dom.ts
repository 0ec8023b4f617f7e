/**
 * What jsdom lacks and Fluent UI v9 touches: ResizeObserver (positioning of popovers/listboxes) and
 * matchMedia (reduced-motion checks). Imported first by every component test (the root jest config
 * has no setup file for the pcf project).
 */
import "@testing-library/jest-dom";

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
 * A Fluent v9 dialog's contents. Under jsdom, after a user-event click opens a Dialog, tabster's
 * modalizer marks the DialogSurface itself aria-hidden (a real browser does not; tests/browser checks
 * the dialog there), so queries inside it must include hidden elements.
 */
export async function openDialog(name: string): Promise<HTMLElement> {
  const { screen } = await import("@testing-library/react");
  return screen.findByRole("dialog", { name, hidden: true });
}
