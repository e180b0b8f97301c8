package dev.lanyard.testing;

import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;

/**
 * A seeded mutation fuzzer for JUnit: runs {@code check} on mutations of the seed inputs (bit and
 * byte flips, insertions, deletions, duplicated and spliced ranges, interesting values) for a
 * bounded time. The seed is fixed unless {@code -Dlanyard.fuzz.seed} says otherwise and is printed,
 * so a failure can be replayed; {@code -Dlanyard.fuzz.seconds} sets the budget (the normal test run
 * takes the short default). Not coverage-guided: that is what the Go and Rust fuzzers add.
 */
public final class Mutator {

    private static final byte[] INTERESTING = {0, 1, 0x7f, (byte) 0x80, (byte) 0xff, '"', '.', '{', '}', '[', ']',
        ',', ':', '\\', '=', '-', '_', 0x30, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x16, (byte) 0xa0, (byte) 0x81,
        (byte) 0x82, (byte) 0x84};

    private final Random random;
    private final long seed;
    private final Duration budget;
    private final List<byte[]> seeds;

    /** The outcome of one run, for the report. */
    public record Run(long seed, long executions, Duration elapsed) {
    }

    public Mutator(List<byte[]> seeds, Duration defaultBudget) {
        this.seeds = List.copyOf(seeds);
        this.seed = Long.getLong("lanyard.fuzz.seed", 20261130L);
        this.random = new Random(seed);
        String seconds = System.getProperty("lanyard.fuzz.seconds");
        this.budget = seconds == null ? defaultBudget : Duration.ofSeconds(Long.parseLong(seconds));
    }

    /** Runs every seed, then mutations until the budget is spent; a throw from check fails the run. */
    public Run run(Consumer<byte[]> check) {
        Instant start = Instant.now();
        Instant end = start.plus(budget);
        long executions = 0;
        for (byte[] s : seeds) {
            check.accept(s.clone());
            executions++;
        }
        while (Instant.now().isBefore(end)) {
            for (int i = 0; i < 100; i++) {
                byte[] input = mutate(seeds.get(random.nextInt(seeds.size())));
                try {
                    check.accept(input);
                } catch (RuntimeException | Error e) {
                    throw new AssertionError("fuzz input (seed " + seed + ", execution " + executions + "): "
                            + java.util.HexFormat.of().formatHex(input), e);
                }
                executions++;
            }
        }
        Run run = new Run(seed, executions, Duration.between(start, Instant.now()));
        System.out.println("fuzz: " + run);
        return run;
    }

    /** One to eight stacked mutations of {@code input}. */
    public byte[] mutate(byte[] input) {
        byte[] out = input.clone();
        int rounds = 1 + random.nextInt(8);
        for (int r = 0; r < rounds; r++) {
            out = once(out);
        }
        return out;
    }

    private byte[] once(byte[] in) {
        if (in.length == 0) {
            return new byte[] {INTERESTING[random.nextInt(INTERESTING.length)]};
        }
        int at = random.nextInt(in.length);
        switch (random.nextInt(8)) {
            case 0 -> {
                byte[] out = in.clone();
                out[at] ^= (byte) (1 << random.nextInt(8));
                return out;
            }
            case 1 -> {
                byte[] out = in.clone();
                out[at] = INTERESTING[random.nextInt(INTERESTING.length)];
                return out;
            }
            case 2 -> {
                int len = Math.min(in.length - at, 1 + random.nextInt(16));
                return concat(Arrays.copyOfRange(in, 0, at), Arrays.copyOfRange(in, at + len, in.length));
            }
            case 3 -> {
                byte[] insert = new byte[1 + random.nextInt(4)];
                for (int i = 0; i < insert.length; i++) {
                    insert[i] = INTERESTING[random.nextInt(INTERESTING.length)];
                }
                return concat(Arrays.copyOfRange(in, 0, at), insert, Arrays.copyOfRange(in, at, in.length));
            }
            case 4 -> {
                int len = Math.min(in.length - at, 1 + random.nextInt(32));
                byte[] range = Arrays.copyOfRange(in, at, at + len);
                return concat(Arrays.copyOfRange(in, 0, at + len), range, Arrays.copyOfRange(in, at + len, in.length));
            }
            case 5 -> {
                byte[] other = seeds.get(random.nextInt(seeds.size()));
                int from = random.nextInt(Math.max(1, other.length));
                return concat(Arrays.copyOfRange(in, 0, at), Arrays.copyOfRange(other, from, other.length));
            }
            case 6 -> {
                return Arrays.copyOf(in, at);
            }
            default -> {
                byte[] out = in.clone();
                out[at] = (byte) (out[at] + random.nextInt(7) - 3);
                return out;
            }
        }
    }

    private static byte[] concat(byte[]... parts) {
        int length = 0;
        for (byte[] p : parts) {
            length += p.length;
        }
        byte[] out = new byte[length];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }
}
