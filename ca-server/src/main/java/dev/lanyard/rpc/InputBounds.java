package dev.lanyard.rpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import dev.lanyard.v1.OptionsProto;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Bounds every request field by the maximum its .proto declares ({@code (lanyard.v1.max_length)},
 * {@code (lanyard.v1.max_items)}), so no handler, database column or audit record sees an
 * unbounded value. The limits are documented where the fields are. Every Duration and Timestamp
 * must lie in the range protobuf defines for it ({@link TimeRanges}).
 */
final class InputBounds {

    /** A field with a limit, or a message field whose own fields may have limits. */
    private record Bound(FieldDescriptor field, int maxLength, int maxItems) {
    }

    private final Map<Descriptor, List<Bound>> bounds = new ConcurrentHashMap<>();

    /** Why {@code message} is out of bounds, naming the field and its limit; empty when it is within them. */
    Optional<String> violation(Object message) {
        return message instanceof Message m ? check(m) : Optional.empty();
    }

    private Optional<String> check(Message message) {
        Optional<String> outOfRange = TimeRanges.violation(message);
        if (outOfRange.isPresent()) {
            return outOfRange;
        }
        for (Bound bound : bounds.computeIfAbsent(message.getDescriptorForType(), InputBounds::boundsOf)) {
            FieldDescriptor field = bound.field();
            if (field.isRepeated()) {
                int count = message.getRepeatedFieldCount(field);
                if (bound.maxItems() > 0 && count > bound.maxItems()) {
                    return Optional.of(field.getName() + " has " + count + " elements; at most "
                            + bound.maxItems() + " are allowed");
                }
                for (int i = 0; i < count; i++) {
                    Optional<String> v = checkValue(field, message.getRepeatedField(field, i), bound.maxLength());
                    if (v.isPresent()) {
                        return v;
                    }
                }
            } else if (field.getJavaType() != FieldDescriptor.JavaType.MESSAGE || message.hasField(field)) {
                Optional<String> v = checkValue(field, message.getField(field), bound.maxLength());
                if (v.isPresent()) {
                    return v;
                }
            }
        }
        return Optional.empty();
    }

    private Optional<String> checkValue(FieldDescriptor field, Object value, int maxLength) {
        if (value instanceof Message nested) {
            return check(nested).map(v -> field.getName() + "." + v);
        }
        int length = value instanceof String s ? s.length() : value instanceof ByteString b ? b.size() : 0;
        if (maxLength > 0 && length > maxLength) {
            String unit = value instanceof String ? " characters" : " bytes";
            return Optional.of(field.getName() + " is " + length + unit + " long; the limit is " + maxLength + unit);
        }
        return Optional.empty();
    }

    private static List<Bound> boundsOf(Descriptor type) {
        List<Bound> list = new ArrayList<>();
        for (FieldDescriptor field : type.getFields()) {
            int maxLength = field.getOptions().getExtension(OptionsProto.maxLength);
            int maxItems = field.getOptions().getExtension(OptionsProto.maxItems);
            boolean nested = field.getJavaType() == FieldDescriptor.JavaType.MESSAGE;
            if (maxLength > 0 || maxItems > 0 || nested) {
                list.add(new Bound(field, maxLength, maxItems));
            }
        }
        return List.copyOf(list);
    }

    /**
     * The string, bytes and repeated fields reachable from {@code type} that declare no limit: a
     * request type must have none (checked by a test over every Lanyard service).
     */
    static List<String> unbounded(Descriptor type) {
        List<String> missing = new ArrayList<>();
        collectUnbounded(type, missing, new java.util.HashSet<>());
        return missing;
    }

    private static void collectUnbounded(Descriptor type, List<String> missing, java.util.Set<Descriptor> seen) {
        if (!seen.add(type) || type.getFile().getPackage().startsWith("google.protobuf")) {
            return;
        }
        for (FieldDescriptor field : type.getFields()) {
            boolean sized = field.getJavaType() == FieldDescriptor.JavaType.STRING
                    || field.getJavaType() == FieldDescriptor.JavaType.BYTE_STRING;
            if (sized && field.getOptions().getExtension(OptionsProto.maxLength) == 0) {
                missing.add(field.getFullName() + " (max_length)");
            }
            if (field.isRepeated() && !field.isMapField() && field.getOptions().getExtension(OptionsProto.maxItems) == 0) {
                missing.add(field.getFullName() + " (max_items)");
            }
            if (field.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
                collectUnbounded(field.getMessageType(), missing, seen);
            }
        }
    }
}
