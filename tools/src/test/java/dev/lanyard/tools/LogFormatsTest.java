package dev.lanyard.tools;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `lanyard dev --log-format json` in a process of its own: every log line is one JSON object. */
class LogFormatsTest {

    @TempDir
    Path dir;

    @Test
    void jsonLogsAreOneObjectPerLine() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                Lanyard.class.getName(), "dev", "--data", dir.resolve("data").toString(), "--port", "0",
                "--http-port", "0", "--log-format", "json").redirectErrorStream(true).start();
        List<String> logLines = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null && !line.contains("Lanyard dev CA is running")) {
                if (line.startsWith("{")) {
                    logLines.add(line);
                }
                if (line.contains("lanyard serving")) {
                    break;
                }
            }
        } finally {
            process.destroy();
            process.waitFor(30, TimeUnit.SECONDS);
        }
        assertThat(logLines).isNotEmpty().allSatisfy(line -> {
            assertThat(line).startsWith("{").endsWith("}").contains("\"level\":", "\"loggerName\":", "\"formattedMessage\":");
            assertThat(line).doesNotContain("PRIVATE KEY", "lyjt_");
        });
        assertThat(String.join("\n", logLines)).contains("crypto provider", "lanyard serving trust domain lanyard.local");
    }
}
