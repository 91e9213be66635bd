# common/ifname: link names of networks, VXLAN devices and taps.
ts_unit_test(ifname_test SOURCES ${C}/ifname.c ${C}/uuid.c)
