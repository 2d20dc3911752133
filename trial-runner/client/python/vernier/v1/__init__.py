# The vernier.v1 messages and gRPC stubs (study_pb2, service_pb2,
# service_pb2_grpc), generated from protos/vernier/v1 at build time.
