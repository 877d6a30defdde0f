/**
 * The PrometheusRule object carrying rules/procgroup.rules.yaml: the rule file stays the one source
 * of truth, this wraps its groups for the prometheus-operator.
 */
import { parse, stringify } from 'yaml';
import { isObject, manifestError, type Manifest } from './manifest.js';

export const RULES_FILE = 'rules/procgroup.rules.yaml';
export const PROMETHEUS_RULE_FILE = 'deploy/kubernetes/prometheusrule.yaml';

/** The groups of a Prometheus rule file, checked for the shape the operator needs. */
export function ruleGroups(text: string, file: string): unknown[] {
  let doc: unknown;
  try {
    doc = parse(text, { prettyErrors: true });
  } catch (err) {
    throw manifestError(file, err instanceof Error ? err.message : String(err));
  }
  const groups = isObject(doc) ? doc['groups'] : undefined;
  if (!Array.isArray(groups) || groups.length === 0) throw manifestError(file, 'groups: missing or empty');
  groups.forEach((g, i) => {
    if (!isObject(g) || typeof g['name'] !== 'string' || !Array.isArray(g['rules'])) {
      throw manifestError(file, `groups[${i}]: needs a name and a list of rules`);
    }
  });
  return groups;
}

export function prometheusRuleManifest(rulesText: string, rulesFile: string): Manifest {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'procgroup-exporter',
      namespace: 'procgroup-exporter',
      labels: {
        'app.kubernetes.io/name': 'procgroup-exporter',
        // kube-prometheus's default ruleSelector; the OpenShift platform Prometheus selects by namespace
        prometheus: 'k8s',
        role: 'alert-rules',
      },
    },
    spec: { groups: ruleGroups(rulesText, rulesFile) },
  };
}

/** deploy/kubernetes/prometheusrule.yaml as `npm run deploy:sync` writes it. */
export function prometheusRuleFileText(rulesText: string, rulesFile: string): string {
  return (
    `# Generated from ${RULES_FILE} by \`npm run deploy:sync\`: edit that file, not this one.\n` +
    stringify(prometheusRuleManifest(rulesText, rulesFile), { lineWidth: 0 })
  );
}
