"""Every examples/*.yaml is accepted by the tool: the YAML loader (td_config_load) and the
store backend's own check of obstore_config (store_open), with no network traffic.

`tiff-dumper headers --check CONFIG` loads the config and opens the store (which checks the
store URL and every obstore_config key and makes no request: S3 credentials from the network
are fetched at the first request, GCS tokens too), writes nothing, and exits 0 or 2. Two
broken copies of an example must exit 2 with their own message.

usage: example_configs.py TIFF_DUMPER EXAMPLES_DIR
"""
import glob
import os
import subprocess
import sys
import tempfile

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL", what)


def clean_env(home):
    # the store options must come from the file alone: no AWS_*/AZURE_*/GOOGLE_* settings
    # of whoever runs the test, no shared AWS files
    drop = ("AWS_", "AZURE_", "AZURITE_", "GOOGLE_", "GCE_", "STORAGE_EMULATOR_HOST")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["HOME"] = home
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    # the profile the private example names (and "default" for the requester-pays one), with
    # made-up keys: credentials are then static, found at open, and never sent anywhere
    os.makedirs(os.path.join(home, ".aws"), exist_ok=True)
    with open(os.path.join(home, ".aws", "credentials"), "w") as f:
        for profile in ("default", "my-profile"):
            f.write(f"[{profile}]\naws_access_key_id = AKIAEXAMPLEEXAMPLE00\n"
                    f"aws_secret_access_key = not-a-real-secret-just-for-the-test\n")
    return env


def run(exe, cfg, cwd, env):
    return subprocess.run([exe, "headers", "--check", cfg], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=30)


def main():
    exe, examples = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    repo = os.path.dirname(examples)  # examples name their local store relative to it
    configs = sorted(glob.glob(os.path.join(examples, "*.yaml")))
    check(len(configs) >= 7, f"only {len(configs)} example configs in {examples}")
    with tempfile.TemporaryDirectory(prefix="td-examples-") as tmp:
        env = clean_env(tmp)
        for cfg in configs:
            p = run(exe, cfg, repo, env)
            ok = p.returncode == 0 and ": ok (store " in p.stdout
            check(ok, f"{os.path.basename(cfg)}: exit {p.returncode}: {p.stderr.strip()[-600:]}")
            if ok:
                print("ok", os.path.basename(cfg))

        # negative controls: broken copies of the public S3 example
        with open(os.path.join(examples, "s3-public-sentinel.yaml")) as f:
            text = f.read()
        bad = {
            "misspelt obstore key": (text.replace("region: us-west-2", "regoin: us-west-2"),
                                     "unknown obstore_config key 'regoin'"),
            "http endpoint without allow_http": (
                text.replace("region: us-west-2",
                             "region: us-west-2\n    endpoint: http://127.0.0.1:9"),
                "allow_http"),
        }
        for name, (body, want) in bad.items():
            check(body != text, f"{name}: the example changed, the control no longer applies")
            path = os.path.join(tmp, "bad.yaml")
            with open(path, "w") as f:
                f.write(body)
            p = run(exe, path, repo, env)
            check(p.returncode == 2 and want in p.stderr,
                  f"{name}: exit {p.returncode} (want 2 and '{want}'): {p.stderr.strip()[-600:]}")
    print(f"{len(configs)} example configs, {len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
