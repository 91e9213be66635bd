# fwbench: agent/net/firewall against the real nft (full ruleset, one-port
# changes) for bench/firewall_bench.sh. Run: build/bench/fwbench (usage in
# fwbench.c).
add_executable(fwbench fwbench.c)
target_link_libraries(fwbench PRIVATE tinystack-agentnet)
