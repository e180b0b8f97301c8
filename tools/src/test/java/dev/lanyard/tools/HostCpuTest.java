package dev.lanyard.tools;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HostCpuTest {

    @Test
    void readsBusyStealAndTotalFromTheAggregateLine() {
        // user nice system idle iowait irq softirq steal guest guest_nice
        HostCpu cpu = HostCpu.parse("cpu  6439483 2224 1223486 5269965 208881 0 207834 91647 0 0").orElseThrow();

        assertThat(cpu.busy()).isEqualTo(6439483 + 2224 + 1223486 + 207834);
        assertThat(cpu.steal()).isEqualTo(91647);
        assertThat(cpu.total()).isEqualTo(cpu.busy() + 5269965 + 208881 + 91647); // guest is inside user
    }

    @Test
    void saysHowBusyTheWindowWasAndHowMuchTheHypervisorTook() {
        HostCpu before = new HostCpu(1_000, 10, 2_000);
        HostCpu after = new HostCpu(1_930, 52, 3_000); // 1,000 ticks: 930 busy, 42 stolen, 28 idle

        assertThat(after.since(before)).isEqualTo("93 % of CPU time busy, 4.2 % stolen by the hypervisor");
        assertThat(before.since(before)).isEqualTo("no CPU time counted");
    }

    @Test
    void refusesWhatIsNotTheAggregateLine() {
        assertThat(HostCpu.parse("cpu0 1 2 3 4 5 6 7 8")).isEmpty();
        assertThat(HostCpu.parse("cpu 1 2 3")).isEmpty();
        assertThat(HostCpu.parse("cpu 1 2 x 4 5 6 7 8")).isEmpty();
        assertThat(HostCpu.parse("")).isEmpty();
    }

    @Test
    void readsThisMachineWhereThereIsAProcStat() {
        if (java.nio.file.Files.isReadable(java.nio.file.Path.of("/proc/stat"))) {
            assertThat(HostCpu.read()).hasValueSatisfying(cpu -> assertThat(cpu.total()).isPositive());
        } else {
            assertThat(HostCpu.read()).isEmpty();
        }
    }
}
