# Compute: the agent's command handler and hypervisor driver on libvirt's
# in-process test driver; the controller's scheduler and reconciler over a
# real LMDB store and an in-process bus pair; OpenSSH key material.
set(TS_A ${CMAKE_SOURCE_DIR}/agent)
set(TS_CTL ${CMAKE_SOURCE_DIR}/controller)
ts_unit_test(compute_agent_test
  SOURCES ${TS_A}/compute/compute.c ${TS_A}/virt/driver.c ${TS_A}/virt/gueststats.c
  ${TS_A}/virt/domxml.c ${TS_A}/image/imgcache.c ${TS_A}/storage/disk.c
  ${TS_A}/virt/configdrive.c ${TS_A}/virt/console.c ${TS_A}/virt/virt.c
  ${TS_A}/virt/backend_test.c ${TS_A}/virt/backend_qemu.c
  ${C}/proc.c ${C}/imgfmt.c ${C}/codec.c ${C}/config.c
  ${TS_GEN_SOURCES}
  ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c ${C}/ifname.c
  ${CMAKE_CURRENT_SOURCE_DIR}/logcap.c
  LIBS PkgConfig::LIBVIRT PkgConfig::MSGPACK PkgConfig::UUID
  PkgConfig::JANSSON PkgConfig::SODIUM PkgConfig::CURL)
if(TARGET compute_agent_test)
  target_include_directories(compute_agent_test PRIVATE ${TS_A})
endif()
ts_unit_test(recon_test
  SOURCES ${TS_CTL}/compute/recon.c ${TS_CTL}/compute/scheduler.c ${TS_CTL}/compute/compute_db.c
  ${TS_CTL}/compute/aggregates.c ${TS_CTL}/image/image_db.c
  ${TS_CTL}/core/db.c ${C}/store.c ${C}/codec.c ${C}/bus.c ${C}/zmtp.c ${C}/config.c
  ${TS_GEN_SOURCES}
  ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c ${CMAKE_CURRENT_SOURCE_DIR}/logcap.c
  LIBS PkgConfig::LMDB PkgConfig::MSGPACK PkgConfig::ZMQ PkgConfig::SODIUM PkgConfig::UUID)
if(TARGET recon_test)
  target_include_directories(recon_test PRIVATE ${TS_CTL})
  set_tests_properties(unit.recon_test PROPERTIES TIMEOUT 120)
endif()
ts_unit_test(compute_sshkey_test SOURCES ${TS_CTL}/compute/sshkey.c
  LIBS PkgConfig::SODIUM)
if(TARGET compute_sshkey_test)
  target_include_directories(compute_sshkey_test PRIVATE ${TS_CTL})
endif()
