package dev.lanyard.tools;

import dev.lanyard.audit.AuditText;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.MaxValuesExceededException;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * A usage error in words that never repeat what was typed: a join token or JWT pasted in the wrong place
 * would otherwise reach the terminal and shell logs. Picocli quotes the argument it could not place
 * ("Unmatched argument at index 3: '...'", "Invalid value for option '--limit': '...' is not an int"); here
 * an argument is named by its position and length, an option's value by the option and its length.
 */
final class UsageMessage {

    private static final Pattern INDEX = Pattern.compile("index (\\d+)");
    /** An exclusive group given twice lists each match's values: "(--serial=<serial> | --jti=<jti>)={--jti=...}". */
    private static final Pattern GROUP_VALUES = Pattern.compile("=\\{.*?}(?= and |$)");

    private UsageMessage() {
    }

    /** What {@code e} says, with every argument of {@code args} it quotes named by its length instead. */
    static String of(ParameterException e, String[] args) {
        if (e instanceof UnmatchedArgumentException unmatched) {
            return unmatched(unmatched, args);
        }
        String message = String.valueOf(e.getMessage());
        if (e instanceof MaxValuesExceededException) {
            message = GROUP_VALUES.matcher(message).replaceAll("");
        }
        if (e.getValue() != null) {
            message = message.replace(quoted(e.getValue()), AuditText.unnamed("the value", e.getValue()));
        }
        return withoutArguments(message, args, e.getCommandLine());
    }

    /** "Unmatched argument at index 3 (412 characters)", "Unknown options from index 2 (7, 1 characters)". */
    private static String unmatched(UnmatchedArgumentException e, String[] args) {
        List<String> unmatched = e.getUnmatched();
        if (unmatched.isEmpty()) {
            return "Unmatched argument";
        }
        boolean one = unmatched.size() == 1;
        String what = (e.isUnknownOption() ? "Unknown option" : "Unmatched argument") + (one ? "" : "s");
        int index = index(e.getMessage(), unmatched, args);
        String where = index < 0 ? "" : (one ? " at index " : " from index ") + index;
        List<String> lengths = new ArrayList<>();
        for (String argument : unmatched) {
            lengths.add(String.valueOf(argument.length()));
        }
        return what + where + " (" + String.join(", ", lengths) + " characters)";
    }

    /**
     * Where the unmatched arguments start among {@code args}: picocli's own count when its message gives
     * one, else the last place they stand in a row (what is left over follows what was matched); -1 if
     * neither.
     */
    private static int index(String message, List<String> unmatched, String[] args) {
        Matcher m = INDEX.matcher(String.valueOf(message));
        if (m.find()) {
            return Integer.parseInt(m.group(1));
        }
        return Collections.lastIndexOfSubList(List.of(args), unmatched);
    }

    /**
     * A last guard for messages picocli builds with a value in quotes: every argument that is not an option
     * or command name, or the value of {@code --option=value}, is replaced where quoted.
     */
    private static String withoutArguments(String message, String[] args, CommandLine commandLine) {
        String result = message;
        for (String argument : args) {
            String text = argument;
            int equals = argument.indexOf('=');
            if (argument.startsWith("-") && equals > 0 && isName(argument.substring(0, equals), commandLine)) {
                text = argument.substring(equals + 1);
            } else if (isName(argument, commandLine)) {
                continue;
            }
            if (!text.isEmpty()) {
                result = result.replace(quoted(text), AuditText.unnamed("the value", text));
            }
        }
        return result;
    }

    private static boolean isName(String argument, CommandLine commandLine) {
        for (CommandLine c = commandLine; c != null; c = c.getParent()) {
            if (c.getCommandSpec().optionsMap().containsKey(argument) || c.getSubcommands().containsKey(argument)) {
                return true;
            }
        }
        return false;
    }

    private static String quoted(String text) {
        return "'" + text + "'";
    }
}
