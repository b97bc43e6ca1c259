/**
 * Waits for a state the engine reaches by itself (a stream's transition ending, a thread
 * starting): runs `check` until it passes (returns without throwing, as an `expect` inside it
 * does once true) and returns its value, or throws its last error after `timeoutMs`. A test
 * that slept a fixed time instead failed whenever a loaded machine ran the engine late.
 */
export const EVENTUALLY_TIMEOUT_MS = 15_000;
const EVENTUALLY_INTERVAL_MS = 20;

export async function eventually<T>(
  check: () => T | Promise<T>,
  timeoutMs = EVENTUALLY_TIMEOUT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, EVENTUALLY_INTERVAL_MS));
  }
}
