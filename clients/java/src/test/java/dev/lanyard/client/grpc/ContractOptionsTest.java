package dev.lanyard.client.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.MethodDescriptorProto;
import com.google.protobuf.DescriptorProtos.MethodOptions;
import com.google.protobuf.DescriptorProtos.ServiceDescriptorProto;
import com.google.protobuf.DescriptorProtos.ServiceOptions;
import com.google.protobuf.Descriptors;
import com.google.protobuf.EmptyProto;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnknownFieldSet;
import dev.lanyard.client.testing.v1.InventoryProto;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ContractOptionsTest {

    private final ContractOptions options = new ContractOptions();

    @Test
    void readsTheAudienceAndScopesOfEveryMethod() {
        Map<String, MethodContract> methods = options.read(InventoryProto.getDescriptor()
                .findServiceByName("InventoryService"));

        assertThat(methods).containsOnlyKeys("lanyard.clienttest.v1.InventoryService/ListItems",
                "lanyard.clienttest.v1.InventoryService/AddItem", "lanyard.clienttest.v1.InventoryService/Forgotten");
        MethodContract add = methods.get("lanyard.clienttest.v1.InventoryService/AddItem");
        assertThat(add.audience()).isEqualTo("spiffe://lanyard.local/ns/shop/sa/inventory");
        assertThat(add.requiredScopes()).containsExactlyInAnyOrder("inventory.read", "inventory.write");
        assertThat(methods.get("lanyard.clienttest.v1.InventoryService/Forgotten").declaresScopes()).isFalse();
    }

    /** A service built at run time, its options only as unknown fields, as from a descriptor set. */
    private static Descriptors.ServiceDescriptor dynamicService(String audience, String scope) throws Exception {
        ServiceOptions.Builder serviceOptions = ServiceOptions.newBuilder();
        MethodOptions.Builder methodOptions = MethodOptions.newBuilder();
        serviceOptions.setUnknownFields(UnknownFieldSet.newBuilder().addField(72101,
                UnknownFieldSet.Field.newBuilder().addLengthDelimited(
                        ByteString.copyFromUtf8(audience)).build()).build());
        methodOptions.setUnknownFields(UnknownFieldSet.newBuilder().addField(72102,
                UnknownFieldSet.Field.newBuilder().addLengthDelimited(
                        ByteString.copyFromUtf8(scope)).build()).build());
        FileDescriptorProto file = FileDescriptorProto.newBuilder()
                .setName("dynamic/v1/dynamic.proto").setPackage("dynamic.v1").setSyntax("proto3")
                .addDependency("google/protobuf/empty.proto")
                .addService(ServiceDescriptorProto.newBuilder().setName("Dynamic").setOptions(serviceOptions)
                        .addMethod(MethodDescriptorProto.newBuilder().setName("Get")
                                .setInputType(".google.protobuf.Empty").setOutputType(".google.protobuf.Empty")
                                .setOptions(methodOptions)))
                .build();
        return Descriptors.FileDescriptor.buildFrom(file, new Descriptors.FileDescriptor[] {EmptyProto.getDescriptor()})
                .findServiceByName("Dynamic");
    }

    @Test
    void readsOptionsThatWereParsedWithoutTheExtensionsRegistered() throws Exception {
        Map<String, MethodContract> methods = options.read(dynamicService("payments", "payments.read"));

        assertThat(methods.get("dynamic.v1.Dynamic/Get").audience()).isEqualTo("payments");
        assertThat(methods.get("dynamic.v1.Dynamic/Get").requiredScopes()).containsExactly("payments.read");
    }

    @Test
    void refusesAScopeThatIsNotAScopeName() throws Exception {
        Descriptors.ServiceDescriptor service = dynamicService("payments", "Payments Read");

        assertThatThrownBy(() -> options.read(service))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("method dynamic.v1.Dynamic/Get requires scope \"Payments Read\", which is not a scope name "
                        + "(lower-case words joined by '.', ':' or '_')");
    }
}
