import { type IncomingHttpHeaders, request } from "node:http";

/** One sample line of the Prometheus text format. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A scraped `/metrics` answer, parsed. */
export interface Scrape {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  readonly samples: readonly Sample[];
  /** The `# HELP` text of each metric family. */
  readonly help: ReadonlyMap<string, string>;
}

/** GETs (or sends `method` to) `<url>/metrics` over HTTP/1.1 on a fresh connection. */
export function scrape(
  url: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const req = request(new URL("/metrics", url), { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const parsed = res.statusCode === 200 ? parse(text) : { samples: [], help: new Map() };
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, ...parsed });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the Prometheus text exposition format; throws on a line it does not understand. */
export function parse(text: string): { samples: Sample[]; help: Map<string, string> } {
  const samples: Sample[] = [];
  const help = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("# HELP ")) {
      const [name = "", ...words] = line.slice("# HELP ".length).split(" ");
      help.set(name, words.join(" "));
      continue;
    }
    if (line.startsWith("#")) continue;
    const match = sampleLine.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key = "", value = ""] of (match[2] ?? "").matchAll(labelPair)) {
      labels[key] = value.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    samples.push({ name: match[1] ?? "", labels, value: Number(match[3]) });
  }
  return { samples, help };
}

/**
 * The value of the one sample named `name` whose labels include `labels`;
 * undefined when none matches, an error when several do.
 */
export function sampleValue(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1) throw new Error(`${found.length} samples match ${name}`);
  return found[0]?.value;
}

/** Scrapes every 25 ms until `done` holds for the samples; fails after `timeoutMs`. */
export async function scrapeUntil(
  url: string,
  done: (samples: readonly Sample[]) => boolean,
  timeoutMs = 5_000,
): Promise<Scrape> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await scrape(url);
    if (done(result.samples)) return result;
    if (Date.now() > deadline) throw new Error(`metrics not as expected after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
