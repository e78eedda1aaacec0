import type { Config } from "../../src/config/types.js";

/** The `auth` section's defaults: no API keys, no operator certificates, nothing anonymous. */
export const defaultAuth: Config["auth"] = {
  apiKeys: [],
  operatorCertificates: [],
  anonymous: { reflection: false, metrics: false },
};
