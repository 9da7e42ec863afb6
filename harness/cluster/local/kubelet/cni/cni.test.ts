import { test } from "node:test";
import assert from "node:assert/strict";
import { cniArgs, CniConfigError, parseNetworkConfig, pickConfigFile, pluginStdin, supportsCheck } from "./config.js";
import { parseCniError, parseCniResult, podIPsFromResult } from "./result.js";

const conflist = JSON.stringify({
  cniVersion: "1.0.0",
  name: "conform-ptp",
  plugins: [
    { type: "ptp", ipMasq: false, ipam: { type: "host-local", ranges: [[{ subnet: "10.244.1.0/24" }]] } },
    { type: "portmap", capabilities: { portMappings: true } },
  ],
});

test("the lexically first config file is in force; other files and dotfiles are ignored", () => {
  assert.equal(pickConfigFile(["20-b.conflist", "10-a.conf", "05-z.json", "README", ".00-hidden.conflist", "99.conflist.bak"]), "05-z.json");
  assert.equal(pickConfigFile(["10-conform.conflist", "10-ptp.conflist"]), "10-conform.conflist");
  assert.equal(pickConfigFile(["notes.txt"]), undefined);
});

test("a conflist is validated and kept in order; a single .conf becomes a list of one", () => {
  const list = parseNetworkConfig("/etc/cni/10.conflist", conflist);
  assert.equal(list.name, "conform-ptp");
  assert.deepEqual(list.plugins.map((p) => p.type), ["ptp", "portmap"]);
  const single = parseNetworkConfig("/etc/cni/10.conf", JSON.stringify({ cniVersion: "0.4.0", name: "n", type: "bridge", bridge: "br0" }));
  assert.equal(single.plugins.length, 1);
  assert.deepEqual(single.plugins[0], { type: "bridge", bridge: "br0" });
});

test("config errors name the file and the field", () => {
  const bad = (text: string) => () => parseNetworkConfig("/d/x.conflist", text);
  assert.throws(bad("{"), (e: unknown) => e instanceof CniConfigError && /^\/d\/x\.conflist: invalid JSON/.test(e.message));
  assert.throws(bad(JSON.stringify({ name: "n", plugins: [] })), /x\.conflist: cniVersion: required/);
  assert.throws(bad(JSON.stringify({ cniVersion: "1.0.0", name: "n", plugins: [] })), /plugins: must be a non-empty array/);
  assert.throws(bad(JSON.stringify({ cniVersion: "1.0.0", name: "n", plugins: [{ type: "ptp" }, { ipam: {} }] })), /plugins\[1\]\.type: required/);
  assert.throws(bad(JSON.stringify({ cniVersion: "1.0.0", name: "n", plugins: [{ type: "../../bin/sh" }] })), /plugins\[0\]\.type: .* must be a plugin name/);
  assert.throws(bad(JSON.stringify({ cniVersion: "1.0.0", name: "bad name", plugins: [{ type: "x" }] })), /name: "bad name" is not a valid network name/);
});

test("plugin stdin: the list's name and cniVersion injected, prevResult chained, runtimeConfig only for declared capabilities", () => {
  const list = parseNetworkConfig("/d/10.conflist", conflist);
  const first = pluginStdin(list, 0, undefined, { portMappings: [{ hostPort: 80 }] });
  assert.deepEqual(first, { type: "ptp", ipMasq: false, ipam: { type: "host-local", ranges: [[{ subnet: "10.244.1.0/24" }]] }, name: "conform-ptp", cniVersion: "1.0.0" });
  const prev = { cniVersion: "1.0.0", ips: [{ address: "10.244.1.5/24" }] };
  const second = pluginStdin(list, 1, prev, { portMappings: [{ hostPort: 80 }], bandwidth: {} });
  assert.deepEqual(second, { type: "portmap", capabilities: { portMappings: true }, name: "conform-ptp", cniVersion: "1.0.0", runtimeConfig: { portMappings: [{ hostPort: 80 }] }, prevResult: prev });
});

test("CNI_ARGS carry the Kubernetes pod identity and IgnoreUnknown", () => {
  assert.equal(
    cniArgs({ namespace: "ns", name: "p", uid: "u1" }, "sb1"),
    "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=sb1;K8S_POD_UID=u1",
  );
  assert.equal(supportsCheck("1.0.0"), true);
  assert.equal(supportsCheck("0.4.0"), true);
  assert.equal(supportsCheck("0.3.1"), false);
});

test("results: the pod's addresses come from sandbox interfaces, IPv4 first; legacy ip4/ip6 accepted", () => {
  const ptp = parseCniResult(
    JSON.stringify({
      cniVersion: "1.0.0",
      interfaces: [{ name: "veth1234", mac: "aa:bb" }, { name: "eth0", mac: "cc:dd", sandbox: "/run/netns/p" }],
      ips: [
        { address: "fd00::5/64", interface: 1 },
        { address: "10.244.1.5/24", gateway: "10.244.1.1", interface: 1 },
        { address: "10.244.1.1/32", interface: 0 },
      ],
      routes: [{ dst: "0.0.0.0/0" }],
    }),
  );
  assert.deepEqual(podIPsFromResult(ptp), ["10.244.1.5", "fd00::5"]);
  assert.equal(ptp.interfaces[0]?.sandbox, undefined);
  const legacy = parseCniResult(JSON.stringify({ cniVersion: "0.2.0", ip4: { ip: "10.1.2.3/16", gateway: "10.1.0.1" } }));
  assert.deepEqual(podIPsFromResult(legacy), ["10.1.2.3"]);
  assert.throws(() => parseCniResult("not json", 'CNI plugin "x"'), /CNI plugin "x" printed a result that is not JSON/);
  assert.throws(() => parseCniResult(JSON.stringify({ ips: [{ address: "10.0.0.1" }] })), /ips\[0\]\.address must be an address in CIDR notation/);
});

test("errors: the plugin's error object, or stderr and exit status when it printed none", () => {
  assert.deepEqual(parseCniError(JSON.stringify({ cniVersion: "1.0.0", code: 11, msg: "failed to allocate", details: "range full" }), "", 1, null), {
    code: 11,
    msg: "failed to allocate",
    details: "range full",
  });
  assert.deepEqual(parseCniError("", "panic: boom\ngoroutine 1", 2, null), { code: 999, msg: "exit status 2: panic: boom | goroutine 1" });
  assert.deepEqual(parseCniError("", "", null, "SIGKILL"), { code: 999, msg: "killed by SIGKILL" });
});
