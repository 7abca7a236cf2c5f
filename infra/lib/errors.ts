/** The shared pipeline config asks for something AWS would reject or that breaks a rule. */
export class InfraConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InfraConfigError';
  }
}
