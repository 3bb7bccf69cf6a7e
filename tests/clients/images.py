"""Images without a registry: a docker-archive tarball built from a busybox rootfs directory.

`docker load`, `podman load`, `ctr images import` and containerd's CRI (after `ctr -n k8s.io
images import`) all accept this format: manifest.json naming the config blob and the layers, the
image config (sha256 of its bytes is the image ID), and one uncompressed layer tar whose sha256 is
the rootfs diff_id.
"""
import hashlib
import io
import json
import os
import tarfile

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _layer_bytes(rootfs):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(rootfs)):
            tar.add(os.path.join(rootfs, name), arcname=name, recursive=True)
    return buf.getvalue()


def build_docker_archive(rootfs, dest, tags=("pyrunc.test/busybox:latest",), cmd=("sh",),
                         entrypoint=None, env=(f"PATH={DEFAULT_PATH}",), workdir="/"):
    """Write a docker-archive of `rootfs` to `dest`, tagged with every name in `tags`.

    Returns the image ID ("sha256:..." of the config blob).
    """
    layer = _layer_bytes(rootfs)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    container_config = {"Env": list(env), "Cmd": list(cmd) if cmd else None,
                        "WorkingDir": workdir}
    if entrypoint:
        container_config["Entrypoint"] = list(entrypoint)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": container_config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "pyrunc tests"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_id = hashlib.sha256(config_bytes).hexdigest()
    layer_dir = diff_id.split(":", 1)[1]
    manifest = [{"Config": f"{config_id}.json", "RepoTags": list(tags),
                 "Layers": [f"{layer_dir}/layer.tar"]}]
    repositories = {}
    for tag in tags:
        repo, _, version = tag.rpartition(":")
        repositories.setdefault(repo, {})[version] = layer_dir

    def add(tar, name, data):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = 0
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))

    with tarfile.open(dest, "w") as tar:
        add(tar, f"{config_id}.json", config_bytes)
        add(tar, f"{layer_dir}/layer.tar", layer)
        add(tar, "manifest.json", json.dumps(manifest).encode())
        add(tar, "repositories", json.dumps(repositories).encode())
    return "sha256:" + config_id
