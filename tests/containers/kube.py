"""tests/containers/kube.py: turn a rendered kustomize overlay (stdin) into what podman 4.3's
`podman kube play` runs on this machine (stdout). Test-only; the shipped manifests stay as they are.

  python3 kube.py --port PORT --secrets DIR [--password PW] [--ca FILE]
                  [--migration NAME=SQL]... [--env KEY=VALUE]... <rendered.yaml

What it changes, and why:
- hostNetwork: true in every pod template, and PGBOOT_DATABASE_HOST=127.0.0.1 and
  PGBOOT_DATABASE_PORT=PORT in the pgboot-env ConfigMap: the machine allows no bridge network,
  and the database is the test server on loopback.
- The Secrets app-db (key password) and, with --ca, db-ca (key ca.crt), which the manifests
  expect to be created outside the repository, are written under DIR, and every Secret volume
  becomes a hostPath volume of that directory, with the items' paths, and the owner, group and
  mode Kubernetes would give the files (root, group fsGroup, defaultMode). podman 4.3's Secret
  volumes cannot be used: one without "optional" crashes it (containers/podman#16636), it
  mounts "data" values without base64-decoding them and ignores "stringData"; and it does not
  apply fsGroup.
- Pods keep their init containers after they ran (annotation io.podman.annotations.init.container
  .type: always; see INIT_TYPE), and their restartPolicy is Never: podman 4.3 applies a pod's
  restartPolicy to its init containers too, so under a Deployment's Always an init container
  that exited 0 is started again and again (and, removed once it has run, the removal races
  the restart: "cannot remove container ... as it is running").
- A Job becomes a Pod with the Job's pod template: podman 4.3 ignores kind Job. What only a
  Job controller does (backoffLimit, podFailurePolicy, activeDeadlineSeconds,
  ttlSecondsAfterFinished) is not tested here.
- --migration NAME=SQL adds a file to the pgboot-migrations ConfigMap (a broken migration);
  --env KEY=VALUE adds a setting to pgboot-env (a shorter wait.timeout).
"""
import argparse
import os
import sys

import yaml

# podman removes an init container once it has run ("once"), and 4.3 sometimes tries before
# it has quite exited ("cannot remove container ... as it is running"): "always" keeps it, so
# that the test can read its exit code, times and log.
INIT_TYPE = "io.podman.annotations.init.container.type"


def secret_dir(args, source, group):
    """Write the Secret a volume names under args.secrets; return the hostPath source."""
    values = {"app-db": {"password": args.password}}
    if args.ca:
        with open(args.ca) as f:
            values["db-ca"] = {"ca.crt": f.read()}
    name = source["secretName"]
    if name not in values:
        sys.exit(f"kube.py: no test value for the Secret {name}")
    directory = os.path.join(args.secrets, f"{name}-{group}")
    os.makedirs(directory, exist_ok=True)
    os.chmod(directory, 0o755)
    mode = source.get("defaultMode", 0o644)
    items = source.get("items") or [{"key": k, "path": k} for k in values[name]]
    for item in items:
        path = os.path.join(directory, item["path"])
        with open(path, "w") as f:
            f.write(values[name][item["key"]])
        os.chown(path, 0, group)
        os.chmod(path, item.get("mode", mode))
    return {"path": directory, "type": "Directory"}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", required=True)
    parser.add_argument("--secrets", required=True)
    parser.add_argument("--password", default="app-pw")
    parser.add_argument("--ca")
    parser.add_argument("--migration", action="append", default=[])
    parser.add_argument("--env", action="append", default=[])
    args = parser.parse_args()

    out = []
    for doc in yaml.safe_load_all(sys.stdin):
        if not doc:
            continue
        kind = doc["kind"]
        name = doc["metadata"]["name"]
        if kind == "ConfigMap" and name.startswith("pgboot-env"):
            doc["data"]["PGBOOT_DATABASE_HOST"] = "127.0.0.1"
            doc["data"]["PGBOOT_DATABASE_PORT"] = str(args.port)
            for e in args.env:
                key, value = e.split("=", 1)
                doc["data"][key] = value
        if kind == "ConfigMap" and name.startswith("pgboot-migrations"):
            for m in args.migration:
                key, sql = m.split("=", 1)
                doc["data"][key] = sql + "\n"
        if kind == "Job":
            template = doc["spec"]["template"]
            doc = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "labels": template["metadata"].get("labels", {})},
                "spec": template["spec"],
            }
        spec = meta = None
        if doc["kind"] == "Deployment":
            # podman 4.3 reads a Deployment's annotations, not its pod template's.
            spec, meta = doc["spec"]["template"]["spec"], doc["metadata"]
        elif doc["kind"] == "Pod":
            spec, meta = doc["spec"], doc["metadata"]
        if spec is not None:
            meta.setdefault("annotations", {})[INIT_TYPE] = "always"
            spec["restartPolicy"] = "Never"
            spec["hostNetwork"] = True
            group = spec.get("securityContext", {}).get("fsGroup", 0)
            for volume in spec.get("volumes", []):
                if "secret" in volume:
                    volume["hostPath"] = secret_dir(args, volume.pop("secret"), group)
        out.append(doc)
    yaml.safe_dump_all(out, sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
