package dev.lanyard.tools;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The launcher keeps the JIT from inlining two H2 methods (a compile that otherwise takes the server
 * past its memory bound); a name that no longer matches is ignored without a word, so an H2 upgrade
 * that renames one must fail here instead.
 */
class LauncherOptionsTest {

    private static final Pattern DONT_INLINE = Pattern.compile("-XX:CompileCommand=dontinline,([\\w.$]+)::(\\w+)");

    @Test
    void everyMethodTheLauncherKeepsFromInliningExistsInTheLibrariesWeShip() throws Exception {
        Matcher options = DONT_INLINE.matcher(Files.readString(launcher()));
        List<String> named = new ArrayList<>();
        while (options.find()) {
            Class<?> type = Class.forName(options.group(1), false, getClass().getClassLoader());
            String method = options.group(2);
            assertThat(Arrays.stream(type.getDeclaredMethods()).map(Method::getName))
                    .as("%s::%s, named in ./lanyard", type.getName(), method).contains(method);
            named.add(type.getSimpleName() + "::" + method);
        }
        assertThat(named).containsExactlyInAnyOrder("FileStore::serializeToBuffer", "DataUtils::appendMap");
    }

    private static Path launcher() throws IOException {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("lanyard")) && Files.isDirectory(d.resolve("tools"))) {
                return d.resolve("lanyard");
            }
        }
        throw new IOException("no ./lanyard above " + Path.of("").toAbsolutePath());
    }
}
