/** Kubernetes identity of a process, derived from its cgroup v2 path (and, for names, from the node's files). */
export type QosClass = 'guaranteed' | 'burstable' | 'besteffort';
export type ContainerRuntime = 'crio' | 'podman' | 'containerd' | 'docker' | 'unknown';

export interface ContainerIdentity {
  podUid: string;
  qos: QosClass;
  /** undefined for pod-level processes (the pod cgroup itself, e.g. infra/pause without own scope) */
  containerId: string | undefined;
  runtime: ContainerRuntime;
  /** names, when a source (log links, OCI config.json, docker config.v2.json) knows them */
  namespace: string | undefined;
  pod: string | undefined;
  container: string | undefined;
}
