/** A started listener: the port it really got (port 0 asks the kernel) and how to stop it. */
export interface Listener {
  proto: "http" | "tcp" | "udp" | "dns";
  port: number;
  close(): Promise<void>;
}

/** Who the server says it is in echoes and logs (env set by the kubelet). */
export interface PodIdentity {
  pod: string;
  namespace: string;
  node: string;
}
