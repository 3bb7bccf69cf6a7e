"""`make demo`: run a busybox container with pyrunc and show what it sees."""
import json
import os
import shutil
import subprocess
import sys

pyrunc, build = sys.argv[1], sys.argv[2]
bundle = os.path.join(build, "demo")
shutil.rmtree(bundle, ignore_errors=True)
os.makedirs(bundle)
subprocess.run([pyrunc, "spec", "--bundle", bundle], check=True)
with open(os.path.join(bundle, "config.json")) as f:
    config = json.load(f)
config["root"]["path"] = os.path.join(build, "rootfs")
config["process"]["terminal"] = False
config["process"]["args"] = ["sh", "-c", "echo \"hello from $(hostname), I am PID $$\"; id; "
                             "echo 'my mounts:'; cat /proc/mounts | cut -d' ' -f2 | head -8"]
config["linux"]["cgroupsPath"] = "/pyrunc-demo"
with open(os.path.join(bundle, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
root = os.path.join(build, "state")
cmd = [pyrunc, "--root", root, "run", "--bundle", bundle, "pyrunc-demo"]
print("$ " + " ".join(cmd), flush=True)
rc = subprocess.run(cmd).returncode
print(f"container exited with status {rc}")
sys.exit(rc)
