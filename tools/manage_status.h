/*
 * manage_status: `tinystack-manage status` and `tinystack-manage logs
 * errors` (the seed's openstack-status and a look at the error logs of
 * every daemon), read from the controller's database (the host_status,
 * services, hypervisors and storage_hosts tables) plus TCP connects to the
 * controller's ports.
 */
#ifndef TS_MANAGE_STATUS_H
#define TS_MANAGE_STATUS_H

struct config;

/* argv[0] is "status". Exit status: 0 all good; 1 when something is down
 * (the controller, one of its ports, an enabled agent or a service an up
 * agent depends on); 2 usage. */
int	manage_status(const struct config *, int argc, char **argv);
/* argv[0] is "logs", argv[1] "errors". 0, 1 (the database cannot be
 * read), 2 usage. */
int	manage_logs(const struct config *, int argc, char **argv);

#endif
