export const benchReconcile = async (..._a: unknown[]): Promise<never> => {
  throw new Error('todo');
};
