#!/bin/sh
# cmdline: task.allow_cid=1,2 task.net.52:54:00:12:34:56=10.0.2.15/24,fd00:77::15/64,gw=10.0.2.2,mtu=1400,route=10.9.0.0/16@10.0.2.2 task.net.dns=10.0.2.3 task.net.search=guest.test task.net.hosts=gw=10.0.2.2,gw6=fd00:77::2
# qemu: -netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56
# A virtio-net NIC on QEMU's user network with restrict=on: nothing the
# guest sends leaves QEMU. The interface is named by its MAC only; taskinit
# loads virtio_net itself, configures it from task.net.*, and the result is
# read back through the list verbs (over vsock loopback), /sys/class/net and
# busybox ip. Then a change at run time, and an error.
. /tests/lib.sh
CTL="/tests/helpers/ctl vsock:1:1024"

check net.module "virtio_net not loaded" test -d /sys/module/virtio_net
check net.sys.mac "eth0 MAC: $(cat /sys/class/net/eth0/address 2>&1)" \
	grep -qx 52:54:00:12:34:56 /sys/class/net/eth0/address
check net.sys.mtu "eth0 MTU: $(cat /sys/class/net/eth0/mtu 2>&1)" grep -qx 1400 /sys/class/net/eth0/mtu
check net.sys.up "eth0 flags: $(cat /sys/class/net/eth0/flags 2>&1)" \
	sh -c '[ $(( $(cat /sys/class/net/eth0/flags) & 1 )) -eq 1 ]'

$CTL links >/tmp/links 2>&1
check net.links "links: $(cat /tmp/links)" grep -q \
	'"name":"eth0","mac":"52:54:00:12:34:56","mtu":1400,"up":true' /tmp/links
$CTL 'addrs eth0' >/tmp/addrs 2>&1
check net.addr4 "addrs: $(cat /tmp/addrs)" grep -q '"addr":"10.0.2.15","prefix":24' /tmp/addrs
check net.addr6 "addrs: $(cat /tmp/addrs)" grep -q '"addr":"fd00:77::15","prefix":64' /tmp/addrs
$CTL routes >/tmp/routes 2>&1
check net.route.default "routes: $(cat /tmp/routes)" grep -q \
	'"family":"inet","dst":"default","gateway":"10.0.2.2","dev":"eth0"' /tmp/routes
check net.route.static "routes: $(cat /tmp/routes)" grep -q \
	'"dst":"10.9.0.0/16","gateway":"10.0.2.2","dev":"eth0"' /tmp/routes
# busybox ip reads the same kernel state another way.
ip -4 route show >/tmp/iproute 2>&1
check net.ip.route "ip route: $(cat /tmp/iproute)" grep -q 'default via 10.0.2.2 dev eth0' /tmp/iproute

check net.resolv "resolv.conf: $(cat /etc/resolv.conf 2>&1)" sh -c \
	'grep -qx "nameserver 10.0.2.3" /etc/resolv.conf && grep -qx "search guest.test" /etc/resolv.conf'
check net.hosts "hosts: $(cat /etc/hosts 2>&1)" sh -c \
	'grep -q "^10.0.2.2	gw$" /etc/hosts && grep -q "^fd00:77::2	gw6$" /etc/hosts'

$CTL 'addr add 52:54:00:12:34:56 10.0.3.15/24' >/tmp/r 2>&1
check net.verb.add "addr add: $(cat /tmp/r)" grep -q '"ok":true' /tmp/r
ip -4 addr show dev eth0 >/tmp/ipaddr 2>&1
check net.verb.readback "ip addr: $(cat /tmp/ipaddr)" grep -q 'inet 10.0.3.15/24' /tmp/ipaddr
$CTL 'link eth9 up' >/tmp/r 2>&1
check net.verb.error "link eth9: $(cat /tmp/r)" grep -q \
	'"error":"net_error","message":"link eth9: No such device"' /tmp/r
$CTL ping >/tmp/r 2>&1
check net.serving "ping: $(cat /tmp/r)" grep -q '"pong":true' /tmp/r
exit 0
