/*
 * network: the public part of the network service for the rest of the
 * controller. For now only the dataplane sync (netsync.h: the desired
 * network state of every host, sent to its agent); the Networking API's
 * life cycle and routes join it here.
 */
#ifndef TS_CONTROLLER_NETWORK_H
#define TS_CONTROLLER_NETWORK_H

#include "network/netsync.h"

#endif
