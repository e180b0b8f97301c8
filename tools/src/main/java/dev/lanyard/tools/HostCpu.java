package dev.lanyard.tools;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * This machine's CPU time as the Linux kernel counts it (the aggregate {@code cpu} line of
 * /proc/stat), so a bench can say how busy the machine was in its window and how much time the
 * hypervisor took away (steal): on a shared virtual machine that is what makes one run slower than
 * the next with nothing changed.
 */
record HostCpu(long busy, long steal, long total) {

    private static final Path PROC_STAT = Path.of("/proc/stat");

    /** Now, or empty where there is no /proc/stat (not Linux) or it cannot be read. */
    static Optional<HostCpu> read() {
        try (BufferedReader stat = Files.newBufferedReader(PROC_STAT)) {
            String first = stat.readLine();
            return first == null ? Optional.empty() : parse(first);
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /**
     * {@code cpu user nice system idle iowait irq softirq steal [guest guest_nice]}, in clock ticks;
     * guest time is already counted in user and nice, so it is left out of the total.
     */
    static Optional<HostCpu> parse(String line) {
        String[] f = line.trim().split("\\s+");
        if (f.length < 9 || !f[0].equals("cpu")) {
            return Optional.empty();
        }
        try {
            long user = Long.parseLong(f[1]);
            long nice = Long.parseLong(f[2]);
            long system = Long.parseLong(f[3]);
            long idle = Long.parseLong(f[4]);
            long iowait = Long.parseLong(f[5]);
            long irq = Long.parseLong(f[6]);
            long softirq = Long.parseLong(f[7]);
            long steal = Long.parseLong(f[8]);
            long busy = user + nice + system + irq + softirq;
            return Optional.of(new HostCpu(busy, steal, busy + idle + iowait + steal));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** What happened between {@code before} and this reading: e.g. "93 % of CPU time busy, 4.2 % stolen ...". */
    String since(HostCpu before) {
        long total = this.total - before.total;
        if (total <= 0) {
            return "no CPU time counted";
        }
        return String.format("%.0f %% of CPU time busy, %.1f %% stolen by the hypervisor",
                100.0 * (busy - before.busy) / total, 100.0 * (steal - before.steal) / total);
    }
}
