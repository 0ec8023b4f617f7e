/**
 * The few browser APIs the form host page uses, typed here: the repository type-checks with the
 * Node libs only (no DOM lib), and adding `lib: dom` for one page would change everyone's globals.
 */
export interface El {
  id: string;
  textContent: string | null;
  className: string;
  hidden: boolean;
  disabled?: boolean;
  href?: string;
  src?: string;
  readonly clientWidth: number;
  readonly style: Record<string, string>;
  onload: (() => void) | null;
  onerror: (() => void) | null;
  appendChild(child: El): El;
  replaceChildren(...children: El[]): void;
  setAttribute(name: string, value: string): void;
  addEventListener(type: string, listener: () => void): void;
}

export interface ControlInstance {
  init(context: unknown, notifyOutputChanged: () => void, state?: Record<string, unknown>, container?: El): void;
  updateView(context: unknown): unknown;
  getOutputs(): Record<string, unknown>;
  destroy(): void;
}

export type ControlConstructor = new () => ControlInstance;

export interface HostConfig {
  /** Where the host's own routes live, e.g. "/form-host". */
  readonly prefix: string;
  /** The Web API root on this origin, e.g. "/api/data/v9.2". */
  readonly apiPath: string;
}

export interface Browser {
  readonly document: {
    getElementById(id: string): El | null;
    createElement(tag: string): El;
    readonly head: El;
    readonly body: El;
    title: string;
  };
  readonly location: { readonly search: string; readonly origin: string };
  readonly navigator: { readonly language: string };
  fetch(url: string, init?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<{
    status: number;
    headers: { get(name: string): string | null };
    text(): Promise<string>;
    json(): Promise<unknown>;
  }>;
  addEventListener(type: string, listener: () => void): void;
  open(url: string, target?: string, features?: string): unknown;
  setInterval(handler: () => void, ms: number): number;
  ComponentFramework?: { registerControl(name: string, ctor: ControlConstructor): void };
  readonly ReactDOM: { render(element: unknown, container: El): void; unmountComponentAtNode(container: El): boolean };
  readonly __FORM_HOST__: HostConfig;
  /** Hooks for the browser tests: the page's state without scraping. */
  formHost?: { readonly state: string; readonly lastError: string | null };
}

export const browser = globalThis as unknown as Browser;
