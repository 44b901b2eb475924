"""The recipes of examples/shards/ (issue 16 item 5) are well formed and agree with the tool:
the Kubernetes manifests parse (YAML) as an Indexed Job whose completions equal --shards and
shards.count, the AWS Batch job definition parses (JSON) and has what register-job-definition
needs, the shell scripts pass `sh -n`, config.yaml passes `headers --check`; and the Slurm
script, run as its array tasks would be (SLURM_ARRAY_TASK_ID 1..3, MIN 1) on examples/data
into a local OUT, gives the rows of one unsharded run and, with `finish`, _SUCCESS.
usage: example_recipes.py TIFF_DUMPER EXAMPLES_DIR"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def main():
    exe, examples = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    d = os.path.join(examples, "shards")
    repo = os.path.dirname(examples)
    with open(os.path.join(d, "config.yaml")) as f:
        count = yaml.safe_load(f)["shards"]["count"]
    with open(os.path.join(d, "k8s-indexed-job.yaml")) as f:
        docs = [x for x in yaml.safe_load_all(f) if x]
    job = docs[0]
    check(job["kind"] == "Job" and job["apiVersion"] == "batch/v1", "k8s: not a batch/v1 Job")
    spec = job["spec"]
    check(spec["completionMode"] == "Indexed", "k8s: not an Indexed Job")
    check(spec["completions"] == count, f"k8s completions {spec['completions']} != shards.count {count}")
    c = spec["template"]["spec"]["containers"][0]
    cmd = " ".join(c.get("command", []) + c["args"])
    check(f"--shards {count}" in cmd and "s3://" in cmd, f"k8s command: {cmd}")
    check(spec["template"]["spec"]["restartPolicy"] == "Never", "k8s: restartPolicy")
    with open(os.path.join(d, "k8s-finish-job.yaml")) as f:
        fin = yaml.safe_load(f)
    check(fin["kind"] == "Job" and fin["spec"]["template"]["spec"]["containers"][0]["args"][0] == "finish",
          "k8s finish job")
    with open(os.path.join(d, "aws-batch-job-definition.json")) as f:
        jd = json.load(f)
    for k in ("jobDefinitionName", "type", "containerProperties"):
        check(k in jd, f"batch: no {k}")
    check("image" in jd["containerProperties"] and "tiff-dumper headers" in
          " ".join(jd["containerProperties"]["command"]), "batch: command")
    # the config embedded in the job definition is one the tool accepts
    env = {e["name"]: e["value"] for e in jd["containerProperties"]["environment"]}
    with tempfile.TemporaryDirectory(prefix="td-recipes-") as tmp:
        emb = os.path.join(tmp, "batch.yaml")
        with open(emb, "w") as f:
            f.write(env["TD_CONFIG"])
        for cfg in (emb, os.path.join(d, "config.yaml")):
            p = subprocess.run([exe, "headers", "--check", cfg], capture_output=True, text=True,
                               timeout=60)
            check(p.returncode == 0, f"{cfg}: {p.stdout} {p.stderr}")
        for sh in ("slurm-array.sh", "aws-batch-submit.sh"):
            p = subprocess.run(["bash", "-n", os.path.join(d, sh)], capture_output=True, text=True)
            check(p.returncode == 0, f"{sh}: {p.stderr}")
        # the Slurm script's task part, for real: three tasks of --array=1-3
        bindir = os.path.join(tmp, "bin")
        os.makedirs(bindir)
        os.symlink(exe, os.path.join(bindir, "tiff-dumper"))
        out = os.path.join(tmp, "out")
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "JOB_COMPLETION",
                                                                         "AWS_BATCH_"))}
        base.update(PATH=bindir + os.pathsep + os.environ["PATH"], OUT=out,
                    CONFIG=os.path.join(examples, "local.yaml"))
        for task in (1, 2, 3):
            env = dict(base, SLURM_ARRAY_TASK_ID=str(task), SLURM_ARRAY_TASK_MIN="1",
                       SLURM_ARRAY_TASK_MAX="3", SLURM_ARRAY_TASK_COUNT="3")
            p = subprocess.run(["bash", os.path.join(d, "slurm-array.sh")], env=env, cwd=repo,
                               capture_output=True, text=True, timeout=60)
            check(p.returncode == 0, f"slurm task {task}: {p.returncode} {p.stderr}")
            check(os.path.exists(os.path.join(out, f"_SUCCESS.shard-{task - 1:04d}-of-0003")),
                  f"slurm task {task}: no marker")
        # as the script's finish step runs it (--config: the output store's options)
        p = subprocess.run([exe, "finish", out, "--config", base["CONFIG"]], cwd=repo,
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, f"finish: {p.stderr}")
        full = os.path.join(tmp, "full")
        p = subprocess.run([exe, "headers", os.path.join(examples, "local.yaml"), full, "-q"],
                           cwd=repo, capture_output=True, text=True, env=base, timeout=60)
        with open(os.path.join(out, "_SUCCESS")) as f:
            a = json.load(f)
        with open(os.path.join(full, "_SUCCESS")) as f:
            b = json.load(f)
        for k in ("listed", "skipped", "dumped", "failed"):
            check(a[k] == b[k], f"slurm shards {k} {a[k]} != unsharded {b[k]}")
        shutil.rmtree(out, ignore_errors=True)
    print(f"example_recipes: {checks} checks passed ({b['dumped']} headers over 3 Slurm tasks)")


if __name__ == "__main__":
    main()
