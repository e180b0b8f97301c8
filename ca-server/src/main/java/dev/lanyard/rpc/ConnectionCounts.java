package dev.lanyard.rpc;

import java.net.InetAddress;
import java.util.HashMap;
import java.util.Map;

/**
 * The connections a listening port has open, in total and per source address, each against its cap:
 * the gRPC port and the HTTP port each keep one. Limits are named as their settings are, without the
 * port's prefix.
 */
public final class ConnectionCounts {

    public static final String TOTAL = "max-connections";
    public static final String PER_SOURCE = "max-connections-per-source";

    private final int maxTotal;
    private final int maxPerSource;
    private final Map<InetAddress, Integer> perSource = new HashMap<>();
    private int total;

    public ConnectionCounts(int maxTotal, int maxPerSource) {
        this.maxTotal = maxTotal;
        this.maxPerSource = maxPerSource;
    }

    /**
     * Null if the connection is admitted (and counted), else the limit it is over. A null source (not
     * an IP connection) counts toward the total only.
     */
    public synchronized String admit(InetAddress source) {
        if (total >= maxTotal) {
            return TOTAL;
        }
        int fromSource = source == null ? 0 : perSource.getOrDefault(source, 0);
        if (fromSource >= maxPerSource) {
            return PER_SOURCE;
        }
        if (source != null) {
            perSource.put(source, fromSource + 1);
        }
        total++;
        return null;
    }

    /** An admitted connection from {@code source} closed. */
    public synchronized void release(InetAddress source) {
        if (source != null) {
            perSource.computeIfPresent(source, (address, n) -> n == 1 ? null : n - 1);
        }
        total--;
    }

    /** Connections open and counted now. */
    public synchronized int open() {
        return total;
    }

    public int maxTotal() {
        return maxTotal;
    }

    public int maxPerSource() {
        return maxPerSource;
    }
}
