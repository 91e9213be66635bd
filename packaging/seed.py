#!/usr/bin/python3
"""seed.py: the all-in-one's flavors, sample image, networks and router.

Run by stack.sh with the admin credentials in the environment (the
keystonerc it wrote). Each object is made only when missing, so a re-run
only reads. One process and one token through openstacksdk (the library
under the openstack CLI) instead of one CLI process per check: each CLI
start costs 1-5 s, which made a re-run of stack.sh take over a minute.

Usage: seed.py FIXED_RANGE SAMPLE_DIR
  When the image is missing, its files are made in SAMPLE_DIR: vmlinux
  and initrd.gz by tests/e2e/mkguest.sh (this host's Debian kernel and a
  busybox initramfs), and an empty 1 GiB qcow2 root disk; the image boots
  AMI-style, its kernel and ramdisk named by the root disk image's
  kernel_id/ramdisk_id properties.
"""
import os
import subprocess
import sys

import openstack

FLAVORS = [  # name, id, RAM MiB, disk GiB, vCPUs (devstack's sizes)
    ("m1.nano", "0", 128, 1, 1),
    ("m1.tiny", "1", 512, 1, 1),
    ("m1.small", "2", 2048, 20, 1),
    ("m1.medium", "3", 4096, 40, 2),
    ("m1.large", "4", 8192, 80, 4),
]
IMAGE = "tinystack-guest"


def say(msg):
    print("seed: " + msg, flush=True)


def image_by_name(conn, name):
    for img in conn.image.images(name=name):
        return img
    return None


def upload(conn, name, path, disk, container, **props):
    # Glance v2's two steps, as `openstack image create --file` takes
    # them: the record, then the data (PUT /v2/images/{id}/file).
    body = dict(name=name, disk_format=disk, container_format=container,
                visibility="public", **props)
    r = conn.image.post("/images", json=body)
    r.raise_for_status()
    iid = r.json()["id"]
    with open(path, "rb") as f:
        r = conn.image.put("/images/%s/file" % iid, data=f,
                           headers={"Content-Type":
                                    "application/octet-stream"})
    r.raise_for_status()
    return iid


def seed_image(conn, sample):
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run([os.path.join(top, "tests/e2e/mkguest.sh"), sample],
                   check=True, stdout=subprocess.DEVNULL)
    disk = os.path.join(sample, "disk.qcow2")
    if os.path.exists(disk):
        os.unlink(disk)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "1G"],
                   check=True)
    kid = upload(conn, IMAGE + "-kernel", sample + "/vmlinux", "aki", "aki")
    rid = upload(conn, IMAGE + "-ramdisk", sample + "/initrd.gz", "ari",
                 "ari")
    upload(conn, IMAGE, sample + "/disk.qcow2", "qcow2", "bare",
           kernel_id=kid, ramdisk_id=rid, os_type="linux")
    say("image %s uploaded" % IMAGE)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: seed.py FIXED_RANGE SAMPLE_DIR")
    fixed_range, sample = sys.argv[1], sys.argv[2]
    conn = openstack.connect()

    have = {f.name for f in conn.compute.flavors(is_public=None)}
    for name, fid, ram, disk, vcpus in FLAVORS:
        if name not in have:
            conn.compute.create_flavor(name=name, id=fid, ram=ram,
                                       disk=disk, vcpus=vcpus)
            say("flavor %s" % name)

    if image_by_name(conn, IMAGE) is None:
        seed_image(conn, sample)

    # The default project network (Nova's "auto": the one network there
    # is), as devstack's "private".
    net = conn.network.find_network("private")
    if net is None:
        net = conn.network.create_network(name="private")
        say("network private")
    sub = conn.network.find_subnet("private-subnet")
    if sub is None:
        sub = conn.network.create_subnet(network_id=net.id,
                                         name="private-subnet",
                                         ip_version=4, cidr=fixed_range)
        say("subnet private-subnet %s" % fixed_range)
    # The external network "public" on physical network public (br-ex
    # here, or ts-ext's br-ex through each namespace host's ex0), whose
    # gateway 172.24.4.1 is the host's (or ts-ext's), and router1 from
    # private to it, as devstack: `openstack floating ip create public`.
    pub = conn.network.find_network("public")
    if pub is None:
        pub = conn.network.create_network(
            name="public", is_router_external=True,
            provider_network_type="flat",
            provider_physical_network="public")
        say("network public")
    if conn.network.find_subnet("public-subnet") is None:
        conn.network.create_subnet(
            network_id=pub.id, name="public-subnet", ip_version=4,
            cidr="172.24.4.0/24", is_dhcp_enabled=False,
            gateway_ip="172.24.4.1",
            allocation_pools=[{"start": "172.24.4.10",
                               "end": "172.24.4.250"}])
        say("subnet public-subnet 172.24.4.0/24")
    if conn.network.find_router("router1") is None:
        r = conn.network.create_router(name="router1")
        conn.network.update_router(
            r, external_gateway_info={"network_id": pub.id})
        conn.network.add_interface_to_router(r, subnet_id=sub.id)
        say("router router1 (private-subnet to public)")


if __name__ == "__main__":
    main()
