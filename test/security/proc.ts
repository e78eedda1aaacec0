import { readFileSync } from "node:fs";

/** The NUL-separated entries of /proc/<pid>/`file`, without the trailing empty one. */
function procEntries(pid: number, file: "cmdline" | "environ"): string[] {
  const text = readFileSync(`/proc/${pid}/${file}`, "utf8");
  const entries = text.split("\0");
  if (entries.at(-1) === "") entries.pop();
  return entries;
}

/** A running process's argv as the kernel holds it (`/proc/<pid>/cmdline`). */
export function readArgv(pid: number): string[] {
  return procEntries(pid, "cmdline");
}

/** A running process's initial environment, `NAME=value` entries (`/proc/<pid>/environ`). */
export function readEnviron(pid: number): string[] {
  return procEntries(pid, "environ");
}

/**
 * The parts of `token` that identify it on their own: the whole token and,
 * for a JWT, its payload and signature segments (the header is common to
 * many tokens).
 */
export function tokenParts(token: string): string[] {
  const [, payload, signature] = token.split(".");
  return [token, payload, signature].filter((part): part is string => (part?.length ?? 0) >= 16);
}

/** The entries of `texts` that contain any identifying part of `token`. */
export function holding(texts: readonly string[], token: string): string[] {
  const parts = tokenParts(token);
  return texts.filter((text) => parts.some((part) => text.includes(part)));
}
