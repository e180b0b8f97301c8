package dev.lanyard.contract;

import com.google.protobuf.DescriptorProtos.MethodOptions;
import com.google.protobuf.DescriptorProtos.ServiceOptions;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import dev.lanyard.v1.OptionsProto;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** Reads the audience and required-scopes options of every service in linked files. */
final class ContractExtractor {

    private static final String AUDIENCE_OPTION = "lanyard.v1.audience";
    private static final String SCOPES_OPTION = "lanyard.v1.required_scopes";

    private ContractExtractor() {
    }

    static ContractSet extract(List<FileDescriptor> files) {
        List<String> problems = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        List<ServiceContract> services = new ArrayList<>();
        Map<String, String> fileOfService = new HashMap<>();
        Map<String, String> serviceOfAudience = new HashMap<>();

        for (FileDescriptor file : files) {
            for (ServiceDescriptor service : file.getServices()) {
                String name = service.getFullName();
                String firstFile = fileOfService.putIfAbsent(name, file.getName());
                if (firstFile != null) {
                    problems.add("service " + name + " is defined twice, in " + ContractNames.quote(firstFile)
                            + " and " + ContractNames.quote(file.getName()));
                    continue;
                }
                ServiceOptions options = reparse(service.getOptions(), ServiceOptions.parser());
                if (!options.hasExtension(OptionsProto.audience)) {
                    warnings.add("service " + name + " has no " + AUDIENCE_OPTION + " option; ignored");
                    continue;
                }
                String audience = options.getExtension(OptionsProto.audience);
                Optional<String> audienceProblem = ContractNames.audienceProblem(audience);
                if (audienceProblem.isPresent()) {
                    problems.add("service " + name + ": " + audienceProblem.get());
                    continue;
                }
                String otherService = serviceOfAudience.putIfAbsent(audience, name);
                if (otherService != null) {
                    problems.add("audience " + ContractNames.quote(audience) + " is claimed by two services, "
                            + otherService + " and " + name);
                    continue;
                }
                services.add(contractOf(service, audience, problems, warnings));
            }
        }
        if (!problems.isEmpty()) {
            throw new InvalidContractException(problems);
        }
        services.sort(Comparator.comparing(ServiceContract::audience));
        return new ContractSet(services, warnings);
    }

    private static ServiceContract contractOf(ServiceDescriptor service, String audience, List<String> problems,
            List<String> warnings) {
        Map<String, Set<String>> required = new LinkedHashMap<>();
        for (MethodDescriptor method : service.getMethods()) {
            String fullMethod = "/" + service.getFullName() + "/" + method.getName();
            MethodOptions options = reparse(method.getOptions(), MethodOptions.parser());
            Set<String> scopes = new LinkedHashSet<>();
            for (String scope : options.getExtension(OptionsProto.requiredScopes)) {
                ContractNames.scopeProblem(scope).ifPresentOrElse(
                        problem -> problems.add("method " + fullMethod + ": " + problem),
                        () -> scopes.add(scope));
            }
            if (options.getExtensionCount(OptionsProto.requiredScopes) == 0) {
                warnings.add("method " + fullMethod + " has no " + SCOPES_OPTION + " option; no token can call it");
            }
            required.put(fullMethod, scopes);
        }
        if (required.isEmpty()) {
            warnings.add("service " + service.getFullName() + " (audience " + ContractNames.quote(audience)
                    + ") has no methods");
        }
        return new ServiceContract(audience, service.getFullName(), required);
    }

    /**
     * Parses options again with our extension registry. The options may hold our extensions
     * already, or as unknown fields, or as extensions of the set's own copy of options.proto;
     * the bytes are the same in every case, so reading them back through our registry is exact.
     */
    private static <T extends Message> T reparse(T options, com.google.protobuf.Parser<T> parser) {
        try {
            return parser.parseFrom(options.toByteString(), DescriptorSets.EXTENSIONS);
        } catch (InvalidProtocolBufferException e) {
            // The bytes came from a message that was just parsed, so they parse again.
            throw new IllegalStateException("options did not survive a round trip", e);
        }
    }
}
