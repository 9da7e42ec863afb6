// Per-cluster certificates and tokens, made with Debian's openssl: a CA, the apiserver's serving
// certificate, the service-account signing key pair, and one bearer token per client identity.
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../../util/exec.js";

export interface TokenUser {
  readonly user: string;
  readonly groups: readonly string[];
}

export interface Pki {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly saKey: string;
  readonly saPub: string;
  readonly tokenFile: string;
  /** user name → bearer token */
  readonly tokens: Readonly<Record<string, string>>;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export async function createPki(dir: string, sans: { ips: readonly string[]; dns: readonly string[] }, users: readonly TokenUser[]): Promise<Pki> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const p = (f: string) => join(dir, f);
  await run("openssl", ["req", "-x509", ...EC, "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "3650", "-subj", "/CN=conform-ca"]);
  const san = [...sans.ips.map((i) => `IP:${i}`), ...sans.dns.map((d) => `DNS:${d}`)].join(",");
  await run("openssl", ["req", "-new", ...EC, "-keyout", p("apiserver.key"), "-out", p("apiserver.csr"), "-subj", "/CN=kube-apiserver", "-addext", `subjectAltName=${san}`]);
  await run("openssl", ["x509", "-req", "-in", p("apiserver.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "3650", "-copy_extensions", "copy", "-out", p("apiserver.crt")]);
  await run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p("sa.key")]);
  await run("openssl", ["pkey", "-in", p("sa.key"), "-pubout", "-out", p("sa.pub")]);

  const tokens: Record<string, string> = {};
  const lines = users.map((u) => {
    const token = randomBytes(24).toString("hex");
    tokens[u.user] = token;
    return `${token},${u.user},${u.user},"${u.groups.join(",")}"`;
  });
  writeFileSync(p("tokens.csv"), lines.join("\n") + "\n", { mode: 0o600 });
  return {
    dir,
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    serverCert: p("apiserver.crt"),
    serverKey: p("apiserver.key"),
    saKey: p("sa.key"),
    saPub: p("sa.pub"),
    tokenFile: p("tokens.csv"),
    tokens,
  };
}

/** A kubeconfig for one token user against `server`, trusting the cluster CA. */
export function kubeconfigYaml(cluster: string, server: string, caCert: string, user: string, token: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: ${cluster}`,
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority: ${caCert}`,
    "users:",
    `- name: ${JSON.stringify(user)}`,
    "  user:",
    `    token: ${token}`,
    "contexts:",
    `- name: ${cluster}`,
    "  context:",
    `    cluster: ${cluster}`,
    `    user: ${JSON.stringify(user)}`,
    `current-context: ${cluster}`,
    "",
  ].join("\n");
}

export function writeKubeconfig(path: string, ...args: Parameters<typeof kubeconfigYaml>): void {
  writeFileSync(path, kubeconfigYaml(...args), { mode: 0o600 });
}
