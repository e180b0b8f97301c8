package dev.lanyard.tools;

import java.time.Duration;
import picocli.CommandLine.ITypeConverter;

/** Lets options take "10m", "1h", "20s" (the server's own duration syntax). */
final class DurationConverter implements ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
        return dev.lanyard.server.Durations.parse(value);
    }
}
