import { AsyncLocalStorage } from "node:async_hooks";
import { type Context, type ContextManager, context, ROOT_CONTEXT } from "@opentelemetry/api";

/**
 * A ContextManager on AsyncLocalStorage: the active context follows awaits,
 * timers and callbacks, as `@opentelemetry/context-async-hooks` does.
 * `bind` binds functions only.
 */
function createAsyncContextManager(): ContextManager {
  const storage = new AsyncLocalStorage<Context>();
  const manager: ContextManager = {
    active: () => storage.getStore() ?? ROOT_CONTEXT,
    with: (ctx, fn, thisArg, ...args) => storage.run(ctx, () => fn.apply(thisArg, args)),
    bind<T>(ctx: Context, target: T): T {
      if (typeof target !== "function") return target;
      return function (this: unknown, ...args: unknown[]) {
        return manager.with(ctx, () => target.apply(this, args));
      } as T;
    },
    enable: () => manager,
    disable() {
      storage.disable();
      return manager;
    },
  };
  return manager;
}

let registered = false;

/**
 * Makes `context.with` and `context.active()` of `@opentelemetry/api` follow
 * async work, by registering createAsyncContextManager globally, once per
 * process. The API keeps the context manager process-wide; only apps with
 * tracing enabled call this. If the embedder registered a context manager
 * already, theirs stays.
 */
export function useAsyncContext(): void {
  if (registered) return;
  registered = true;
  context.setGlobalContextManager(createAsyncContextManager());
}
