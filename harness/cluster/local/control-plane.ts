// The real Kubernetes control plane of a local cluster: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler, all inside the cluster's control-plane netns.
import { closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { spawnDetached } from "../../util/exec.js";
import type { Pki } from "./pki.js";
import { kubeBin } from "./paths.js";
import { CONTROL_PLANE_IP } from "./topology.js";

export type ControlPlaneComponent = "etcd" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler";

export interface ControlPlaneInput {
  readonly netns: string;
  readonly stateDir: string;
  readonly pki: Pki;
  readonly podCIDR: string;
  readonly nodeCIDRMaskSize: number;
  readonly serviceCIDR: string;
  /** kubeconfig paths for the controller-manager and scheduler (in-netns loopback server). */
  readonly kubeconfigs: { readonly controllerManager: string; readonly scheduler: string };
}

function argsFor(component: ControlPlaneComponent, c: ControlPlaneInput): string[] {
  switch (component) {
    case "etcd":
      // Loopback of the control-plane netns: each cluster has its own, so fixed ports are safe.
      return [
        "--name=cp",
        `--data-dir=${join(c.stateDir, "etcd")}`,
        "--listen-client-urls=http://127.0.0.1:2379",
        "--advertise-client-urls=http://127.0.0.1:2379",
        "--listen-peer-urls=http://127.0.0.1:2380",
        "--initial-advertise-peer-urls=http://127.0.0.1:2380",
        "--initial-cluster=cp=http://127.0.0.1:2380",
        "--listen-metrics-urls=",
        // A test cluster loses nothing of value on power loss; fsync only costs start-up time.
        "--unsafe-no-fsync=true",
        "--log-level=warn",
      ];
    case "kube-apiserver":
      return [
        "--etcd-servers=http://127.0.0.1:2379",
        "--bind-address=0.0.0.0",
        "--secure-port=6443",
        // Required: without a default route the apiserver cannot pick an address by itself.
        `--advertise-address=${CONTROL_PLANE_IP}`,
        `--tls-cert-file=${c.pki.serverCert}`,
        `--tls-private-key-file=${c.pki.serverKey}`,
        `--client-ca-file=${c.pki.caCert}`,
        // Without a request-header CA every aggregated-API client (controller-manager, scheduler)
        // logs an error about the missing bundle every few seconds.
        `--requestheader-client-ca-file=${c.pki.caCert}`,
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        `--cert-dir=${join(c.stateDir, "apiserver-certs")}`,
        `--service-cluster-ip-range=${c.serviceCIDR}`,
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${c.pki.saPub}`,
        `--service-account-signing-key-file=${c.pki.saKey}`,
        `--token-auth-file=${c.pki.tokenFile}`,
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        "--allow-privileged=true",
        "--profiling=false",
        "--v=1",
      ];
    case "kube-controller-manager":
      return [
        `--kubeconfig=${c.kubeconfigs.controllerManager}`,
        `--authentication-kubeconfig=${c.kubeconfigs.controllerManager}`,
        `--authorization-kubeconfig=${c.kubeconfigs.controllerManager}`,
        "--bind-address=127.0.0.1",
        "--allocate-node-cidrs=true",
        `--cluster-cidr=${c.podCIDR}`,
        `--node-cidr-mask-size=${c.nodeCIDRMaskSize}`,
        `--service-cluster-ip-range=${c.serviceCIDR}`,
        `--service-account-private-key-file=${c.pki.saKey}`,
        `--root-ca-file=${c.pki.caCert}`,
        "--use-service-account-credentials=true",
        // Lifts the not-ready taint soon after a node turns Ready (default: every 5 s).
        "--node-monitor-period=1s",
        ...TOLERANT_LEADER_ELECTION,
        "--profiling=false",
        "--v=1",
      ];
    case "kube-scheduler":
      return [
        `--kubeconfig=${c.kubeconfigs.scheduler}`,
        `--authentication-kubeconfig=${c.kubeconfigs.scheduler}`,
        `--authorization-kubeconfig=${c.kubeconfigs.scheduler}`,
        "--bind-address=127.0.0.1",
        ...TOLERANT_LEADER_ELECTION,
        "--profiling=false",
        "--v=1",
      ];
  }
}

/**
 * A leader that misses its renew deadline exits, and nothing restarts it here. The defaults (10 s
 * deadline, 5 s per request) are lost on a busy 2-core machine (seen with 500 pods starting), so
 * give the single replica far more slack; there is no other replica to fail over to anyway.
 */
const TOLERANT_LEADER_ELECTION = ["--leader-elect-lease-duration=60s", "--leader-elect-renew-deadline=50s", "--leader-elect-retry-period=2s"] as const;

export const logFile = (stateDir: string, component: string): string => join(stateDir, "logs", `${component}.log`);

/** Starts one component detached inside the control-plane netns; returns its PID. */
export function startComponent(component: ControlPlaneComponent, c: ControlPlaneInput): number {
  mkdirSync(join(c.stateDir, "logs"), { recursive: true });
  const fd = openSync(logFile(c.stateDir, component), "a");
  try {
    return spawnDetached(kubeBin(component), argsFor(component, c), { netns: c.netns, logFd: fd, cwd: c.stateDir });
  } finally {
    closeSync(fd);
  }
}
